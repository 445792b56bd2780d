"""What the pipeline is running on, as plain data: the corpus and index, the embedder, the LLM and its health.

The UI's side panel shows these; keeping them here means ``ui/`` only formats them.

Example::

    from rag.app.status import corpus_status, llm_status
    corpus_status(pipeline).documents[0].title    # "Operation Sentinel ..."
    llm_status(pipeline)                          # LLMStatus(backend="embedded", ..., healthy=True)
"""

from __future__ import annotations

from dataclasses import dataclass

from embeddings import EmbedderUnavailable
from rag.errors import RagError, one_line
from rag.pipeline import Pipeline
from rag.store.manifest import IndexedDocument


@dataclass(frozen=True)
class CorpusStatus:
    corpus_dir: str  # the folder the index was built from
    index_dir: str
    documents: list[IndexedDocument]
    paragraphs: int
    chunks: int
    embedder: str
    dim: int
    index_type: str  # the FAISS types of the live segments and their count, e.g. "HNSW32 + Flat ×2 (3 segments)"


@dataclass(frozen=True)
class LLMStatus:
    backend: str  # "ollama", "embedded", or "" when no backend could be set up
    model: str
    reason: str  # why this backend (auto's choice, or configured)
    healthy: bool
    detail: str  # one line: what is wrong, or what is up


def corpus_status(pipeline: Pipeline) -> CorpusStatus:
    """Opens the index if needed (never builds one); raises RagError with a one-line message."""
    index = pipeline.index
    manifest = index.manifest
    types = [segment.record.index_type for segment in index.segments]
    kinds = " + ".join(f"{kind} ×{types.count(kind)}" if types.count(kind) > 1 else kind for kind in dict.fromkeys(types))
    return CorpusStatus(manifest.corpus_root, str(pipeline.settings.resolved_index_dir()),
                        list(manifest.documents.values()), index.paragraph_count, len(index),
                        manifest.embedder, manifest.dim, f"{kinds} ({len(types)} segment{'s' * (len(types) != 1)})")


def llm_status(pipeline: Pipeline) -> LLMStatus:
    """The LLM in use and whether it can answer now (Ollama: a quick probe; embedded: load + one decode)."""
    try:
        choice = pipeline.llm
    except (RagError, EmbedderUnavailable) as exc:
        return LLMStatus("", "", "", False, one_line(exc))
    llm = choice.llm
    try:
        detail = llm.check()
    except RagError as exc:
        return LLMStatus(llm.backend, llm.model, choice.reason, False, one_line(exc))
    return LLMStatus(llm.backend, llm.model, choice.reason, True, detail)
