"""The settings sections: one pydantic model per part of the pipeline.

Each factory receives only its section (``make_llm(settings.llm)``, ``update_index(..., settings.index)``),
so a module cannot quietly depend on another's knobs. ``extra="forbid"`` turns a misspelt key
(``RAG_RETRIEVAL__KK``, a preset file's typo) into an error that names it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from embeddings import split_backend
from embeddings.classpath import import_class, is_class_path
from rag.settings.base import Section
from rag.settings.llm import LLMSettings
from rag.settings.prompts import PromptSettings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUNDLED_CORPUS = PROJECT_ROOT / "data" / "reports"


def is_bundled(corpus_dir: Path) -> bool:
    """The sample reports shipped with the project (never changed by uploads; first-run indexing)."""
    return corpus_dir.expanduser().resolve() == BUNDLED_CORPUS.resolve()
# all-MiniLM-L6-v2 as static int8 on OpenVINO: 3.4x torch fp32 on 2 cores, retrieval as good on both eval
# sets (embeddings.onnx_backend, bench/embed_throughput.py); "all-MiniLM-L6-v2" is the torch fp32 model.
DEFAULT_EMBEDDER = "all-MiniLM-L6-v2@openvino-int8"


def xdg(var: str, fallback: str) -> Path:
    """An XDG base directory, read when a default is needed (tests point it elsewhere)."""
    return Path(os.environ.get(var) or Path.home() / fallback)


def default_index_dir() -> Path:
    """Where the index lives unless ``index.index_dir`` says otherwise (the commands then need ``--index-dir``)."""
    return xdg("XDG_DATA_HOME", ".local/share") / "rag" / "index"


class IndexSettings(Section):
    """Documents, chunking, the embedder and the index (``rag.documents``, ``embeddings``, ``rag.store``)."""

    corpus_dir: Path = Field(BUNDLED_CORPUS, description="Folder of reports to index.")
    index_dir: Path = Field(
        default_factory=default_index_dir,
        description="Where the FAISS index and its records live.",
    )
    index_type: str = Field(
        "auto",
        description="'auto' (Flat up to flat_max_vectors per segment, large_index_type above), or a "
        "faiss.index_factory string used for every segment: 'Flat' (exact), 'HNSW32', 'IVF1024,SQ8', ...; "
        "or 'milvus': the rows in Milvus (index.uri), searched there (pip install 'rag-reports[milvus]').",
    )
    uri: str = Field(
        "", description="index_type 'milvus': empty = Milvus Lite in <index_dir>/milvus.db (one process at a time), "
        "a path ending in .db = Milvus Lite there, or a server such as 'http://milvus:19530' (standalone/cluster).")
    collection: str = Field(
        "", description="index_type 'milvus': name prefix of the collections (default: from the index folder); "
        "one index folder per prefix.")
    flat_max_vectors: int = Field(
        100_000, ge=0, description="'auto': segments up to this many vectors use exact search (Flat).")
    large_index_type: str = Field(
        "IVF{nlist},SQ8", description="'auto': the approximate FAISS index of larger segments; {nlist} becomes "
        "the power of two nearest 4·√vectors (bench/ann_types.py: recall@10 against Flat).")
    hnsw_ef_search: int = Field(64, ge=1, description="HNSW: candidates a search keeps (higher: recall up, speed down).")
    ivf_nprobe: int = Field(32, ge=1, description="IVF: inverted lists a search visits (higher: recall up, speed down).")
    max_segments: int = Field(
        8, ge=1, description="More live segments than this after `rag index`: all but the largest are merged.")
    max_deleted_fraction: float = Field(
        0.25, ge=0.0, le=1.0, description="A segment whose deleted share of paragraphs passes this is rewritten.")
    extensions: tuple[str, ...] = Field(
        (".txt", ".md", ".html", ".htm", ".pdf", ".docx"), description="File types indexed, by extension.")
    max_file_bytes: int = Field(50_000_000, description="Larger files are skipped when indexing.")
    max_read_seconds: float = Field(
        300.0, gt=0, description="Reading one file (a PDF's pages, a Word file's parts) may take this long; a file "
        "that takes longer is skipped with a warning, so one crafted file cannot hold the indexer.")
    max_pdf_pages: int = Field(5_000, ge=1, description="PDFs with more pages are skipped before any page is read.")
    max_unpacked_bytes: int = Field(
        200_000_000, ge=1, description="Word files whose parts unpack to more than this are skipped before parsing.")
    max_compression_ratio: float = Field(
        100.0, gt=1, description="A Word file part (over 1 MiB) that unpacks to more than this many times its packed "
        "size is a zip bomb: the file is skipped before parsing (Apache POI refuses the same ratio).")
    follow_symlinks: bool = Field(
        False, description="Index links that resolve outside the corpus folder (off: they are skipped with a warning).")
    watch_debounce_ms: int = Field(
        1000, ge=10, description="`--watch`: changes in the folder are indexed together once it has been quiet this "
        "many milliseconds (a file still being copied is not read half-written).")
    embedder: str = Field(
        DEFAULT_EMBEDDER,
        description="'all-MiniLM-L6-v2' (packaged, offline; torch fp32), any sentence-transformers name/path, or a "
        "'package.module:ClassName' embedder (constructed with batch_size= if it takes it, else no arguments). "
        "A model name may end in '@openvino-int8' (the default's), '@openvino', '@onnx' or '@onnx-int8': that "
        "runtime instead of torch, exported once into the model cache (another name: the index is rebuilt).",
    )
    embed_batch_size: int = Field(
        32, ge=1, description="Texts per embedding batch. Measured: 8 to 64 within 6% of each other for the default "
        "embedder (bench/embed_throughput.py).")
    chunk_overlap_sentences: int = Field(1, description="Sentences shared by the pieces of a long paragraph.")
    window_sentences: int = Field(
        2, ge=0, description="Also embed every run of this many sentences of a paragraph (0: whole paragraphs only).")

    @field_validator("embedder")
    @classmethod
    def _embedder_class_resolves(cls, value: str) -> str:
        """A class path must import, a backend suffix be known, now: a one-line error beats one after minutes."""
        if is_class_path(value):
            import_class(value)
        else:
            split_backend(value)
        return value


class RetrievalSettings(Section):
    """What is retrieved for a question and shown to the LLM (``rag.query``, ``rag.answer.prompt``)."""

    k: int = Field(5, ge=1, le=50, description="Paragraphs retrieved and shown to the LLM.")
    mode: Literal["hybrid", "dense"] = Field(
        "hybrid", description="'hybrid' fuses FAISS and BM25 (bm25s) rankings; 'dense' is FAISS only.")
    rrf_k: int = Field(60, description="Reciprocal-rank-fusion constant (larger = flatter fusion).")
    candidates: int = Field(50, description="Candidates each retriever contributes before fusion.")
    max_question_chars: int = Field(2000, description="Longer questions are refused as invalid input.")
    min_source_score_ratio: float = Field(
        0.0, ge=0.0, le=1.0, description="Show the LLM only sources scoring at least this share of the best one's "
        "similarity (0: all k). Measured: at 0.5 it dropped 0.15 sources per question on the bundled set.")
    max_source_chars: int = Field(
        700, description="A longer paragraph is shortened to its sentences that best match the question, in the "
        "prompt only (citations show it whole). Prompt tokens are the time to first token: bench/prompt_budget.py.")


class CitationSettings(Section):
    """How an answer is tied to its sources (``rag.answer.extraction``, ``rag.answer.citations``)."""

    mode: Literal["extract", "write-first"] = Field(
        "extract", description="extract: the model first chooses the sentences that answer (a grammar restricts "
        "it to their ids), and they are the answer and its citations; write-first: it writes with [n] markers, "
        "which are then checked.")
    max_evidence_sentences: int = Field(3, ge=1, le=10, description="extract: most sentences the model may choose.")
    add_best_sentence: Literal["any", "chosen-or-top", "same-paragraph", "off"] = Field(
        "chosen-or-top", description="extract: the shown sentence closest to the question (by the embedder and its "
        "key terms) joins the model's choice when it is not in it: from any paragraph shown, from a paragraph the "
        "model chose from or the best retrieved one, only from a paragraph the model chose from, or never.")
    write_answer: bool = Field(False, description="extract: after choosing, the model also writes a short answer "
                               "from its choice (checked against it); off: the chosen sentences are the answer.")
    write_other_languages: bool = Field(
        True, description="extract: a question in another language gets a short answer written in it from the "
        "chosen sentences (checked for their numbers), which are shown as the reports write them; off: the chosen "
        "sentences are its answer, as for an English question without write_answer.")

    attribution: Literal["embedding", "lexical", "off"] = Field(
        "embedding", description="How sentences without a [n] marker are attributed to a source."
    )
    attribution_min_similarity: float = Field(
        0.45, description="A sentence is attributed only when its best source is at least this similar."
    )
    min_support: float = Field(
        0.5, ge=0.0, le=1.0, description="A cited sentence must find this share of its own words (not the "
        "question's) in its source; else it is re-pointed to the source that has them, or removed.")


class AbstentionSettings(Section):
    """When an answer is refused because its evidence does not cover the question (``rag.answer.abstention``).

    The defaults are the point bench/abstention.py chose on full runs of both bundled eval sets in the
    extract mode: the best utility for a careful analyst with at most one answerable question in five
    refused per set. The ``write-first`` preset holds the point it chose for that path.
    """

    min_coverage: float = Field(
        0.6, ge=0.0, le=1.0, description="Refuse when the cited paragraphs hold less than this share of the "
        "question's key terms (0: off).")
    translated_coverage_scale: float = Field(
        0.8, ge=0.0, le=1.0, description="A question translated from another language is held to this share of "
        "each coverage threshold: a translation keeps about 0.8 of the key terms of the question as written in "
        "English (0.76 to 0.80 on the eval set's translated questions), and a word it renders otherwise is no "
        "silence of the reports (1.0: as an English question).")
    min_window_coverage: float = Field(
        0.0, ge=0.0, le=1.0, description="Refuse when the supporting sentences and their neighbours hold less "
        "than this share of the question's key terms (0: off).")
    min_source_coverage: float = Field(
        0.0, ge=0.0, le=1.0, description="Refuse when all the paragraphs shown to the model hold less than this "
        "share of the question's key terms (0: off).")
    max_refusal_probability: float = Field(
        1.0, ge=0.0, le=1.0, description="Refuse when the model was at least this likely to start with the refusal "
        "sentence instead of its answer (embedded backend; 1.0: off).")
    term_similarity: float = Field(
        1.0, ge=0.0, le=1.0, description="A question term also counts as found when a word of the passage is this "
        "similar under the embedder (paraphrases; 1.0: same word family only).")
    window_sentences: int = Field(1, ge=0, description="Neighbouring sentences counted around a quote (0: the "
                                  "quoted sentence alone, in the extract mode the sentence the model chose).")
    refusal_related_min_coverage: float = Field(
        0.5, ge=0.0, le=1.0, description="A refusal cites the closest passage when it holds at least this share of "
        "the question's key terms (1.0: never).")
    check_answer_type: bool = Field(
        True, description="Refuse a 'how many' answer without a number, a 'when' answer without a date.")


class QuestionSettings(Section):
    """Rewriting follow-ups and translating questions before retrieval (``rag.query``)."""

    followup_turns: int = Field(2, ge=0, description="Previous question/answer pairs used to rewrite a follow-up "
                                                      "into a standalone question (0: never rewrite).")
    followup_max_chars: int = Field(400, ge=50, description="Each previous message is cut to this many characters "
                                                             "in the rewrite prompt (prompt length is latency).")
    followup_max_tokens: int = Field(48, ge=8, description="Token cap for the rewritten question.")
    translate: bool = Field(True, description="Search with an English translation (one short LLM call) "
                                              "when a question does not look English.")
    translation_max_tokens: int = Field(64, ge=8, description="Token cap for the translated question.")


class UISettings(Section):
    """The web UI (``rag serve``) and its uploads (``rag.app.uploads``)."""

    host: str = Field("127.0.0.1", description="Address `rag serve` binds to (0.0.0.0 exposes it).")
    port: int = Field(7860, ge=1, le=65535, description="Port `rag serve` listens on.")
    auth: str | None = Field(None, description="'user:password' to require a login (off by default).")
    examples: tuple[str, ...] = Field(
        ("What did Operation Sentinel seize?", "Who is Andrei Belyaninov?",
         "Who opened the supply-chain seminar?"),
        description="Example questions shown as buttons.")
    max_upload_bytes: int = Field(10_000_000, ge=1, description="Larger upload files are refused.")
    max_upload_text_bytes: int = Field(
        650_000, ge=1, description="Uploads whose text is larger are refused: about a minute of indexing on 2 cores "
        "(measured: 920 KB of report text indexed in 85 s). `rag index` has no such limit.")
    max_upload_read_seconds: float = Field(
        20.0, gt=0, description="Reading one upload (parsing a PDF or Word file) may take this long before it is "
        "refused; `rag index` allows index.max_read_seconds.")
    allow_uploads: bool | None = Field(
        None, description="Let the web UI add, delete and re-index reports (unset: on for a loopback host or with a "
        "login).")
    watch: bool = Field(False, description="Keep the index following the corpus folder while serving (`rag serve "
                        "--watch`): files added, changed or removed there are indexed in the background.")
    temp_dir: Path = Field(
        default_factory=lambda: xdg("XDG_CACHE_HOME", ".cache") / "rag" / "gradio",
        description="Gradio's working folder (GRADIO_TEMP_DIR): uploads wait here until they are checked, and files "
        "the page is sent are cached here; ours, so the UI writes nothing in the system's temporary folder.")
    workspace_corpus_dir: Path = Field(
        default_factory=lambda: xdg("XDG_DATA_HOME", ".local/share") / "rag" / "corpus",
        description="Writable copy of the bundled reports that uploads go to when the corpus is the bundled sample.",
    )


# Section name on ``Settings`` -> its model: the one place that lists them.
SECTIONS: dict[str, type[Section]] = {
    "index": IndexSettings, "retrieval": RetrievalSettings, "llm": LLMSettings, "citations": CitationSettings,
    "abstention": AbstentionSettings, "questions": QuestionSettings, "prompts": PromptSettings, "ui": UISettings,
}
