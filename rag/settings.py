"""One validated settings object for the whole pipeline.

Every tunable lives here so that modules carry no magic constants. Values come,
in rising priority, from a named preset, the environment (``RAG_*``, plus
``OLLAMA_HOST``) and explicit keyword arguments (what the CLI flags pass).

Example::

    from rag.settings import Settings
    s = Settings(preset="fast", k=3)          # preset, then explicit override
    s = Settings()                            # RAG_K=8 in the environment wins over the preset
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CORPUS = PROJECT_ROOT / "data" / "reports"
DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"

LLMBackendName = Literal["auto", "ollama", "embedded"]

# Named presets, in the spirit of PaperQA2: a preset only fills values the user did not set.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    # Fewer sources and a shorter answer: the quickest useful answer on a small CPU.
    "fast": {"k": 3, "max_answer_tokens": 256},
    # More context for questions that span several reports.
    "thorough": {"k": 8, "max_answer_tokens": 768, "n_ctx": 8192},
    # Answer whenever the model does: no evidence-based refusals (fewer false refusals, more confident guesses).
    "lenient": {"abstain_min_window_coverage": 0.0, "abstain_min_source_coverage": 0.0,
                "abstain_check_answer_type": False, "abstain_max_refusal_probability": 1.0},
}


def _xdg(var: str, fallback: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / fallback)


class Settings(BaseSettings):
    """All configuration. Environment variables use the ``RAG_`` prefix (``RAG_K=8``)."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="forbid", validate_default=True)

    preset: str = Field("default", description="Named preset: " + ", ".join(PRESETS))

    # --- documents and index -------------------------------------------------------------
    corpus_dir: Path = Field(BUNDLED_CORPUS, description="Folder of reports to index.")
    index_dir: Path = Field(
        default_factory=lambda: _xdg("XDG_DATA_HOME", ".local/share") / "rag" / "index",
        description="Where the FAISS index and its records live.",
    )
    index_type: str = Field(
        "Flat",
        description="A faiss.index_factory string: 'Flat' (exact), 'HNSW32', 'IVF16,Flat', ...",
    )
    extensions: tuple[str, ...] = (".txt", ".md", ".html", ".htm", ".pdf")
    max_file_bytes: int = Field(50_000_000, description="Larger files are skipped when indexing.")
    follow_symlinks: bool = Field(
        False, description="Index links that resolve outside the corpus folder (off: they are skipped with a warning).")

    # --- embeddings ------------------------------------------------------------------------
    embedder: str = Field(
        DEFAULT_EMBEDDER,
        description="'all-MiniLM-L6-v2' (packaged, offline) or any sentence-transformers name/path.",
    )
    embed_batch_size: int = 32
    chunk_overlap_sentences: int = Field(1, description="Sentences shared by the pieces of a long paragraph.")
    window_sentences: int = Field(
        2, ge=0, description="Also embed every run of this many sentences of a paragraph (0: whole paragraphs only).")

    # --- retrieval -------------------------------------------------------------------------
    k: int = Field(5, ge=1, le=50, description="Paragraphs retrieved and shown to the LLM.")
    retrieval: Literal["hybrid", "dense"] = Field(
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

    # --- LLM -------------------------------------------------------------------------------
    llm: LLMBackendName = Field("auto", description="'auto' (Ollama if it answers, else embedded), 'ollama' or 'embedded'.")
    ollama_host: str = Field(
        "http://127.0.0.1:11434",
        validation_alias=AliasChoices("ollama_host", "OLLAMA_HOST", "RAG_OLLAMA_HOST"),
    )
    ollama_model: str = Field("qwen2.5:3b", description="Model name on the Ollama server.")
    ollama_timeout: float = Field(120.0, description="Seconds before an Ollama request is abandoned.")
    ollama_probe_timeout: float = Field(1.5, description="Seconds 'auto' waits for Ollama before falling back.")
    gguf_path: Path | None = Field(None, description="A GGUF file for the embedded backend (default: the packaged model).")
    model_cache_dir: Path = Field(
        default_factory=lambda: _xdg("XDG_CACHE_HOME", ".cache") / "rag" / "models",
        description="Where the packaged GGUF is assembled once.",
    )
    n_ctx: int = Field(4096, description="Context window for the embedded model.")
    n_threads: int | None = Field(None, description="CPU threads for the embedded model (default: all cores).")
    n_batch: int = Field(512, ge=1, description="Prompt tokens the embedded model takes per decode call.")
    n_ubatch: int = Field(512, ge=1, description="Physical batch of the embedded model (at most n_batch).")
    flash_attn: bool = Field(False, description="Flash attention in the embedded model.")
    llama_extra_buffers: bool = Field(
        False, description="Let llama.cpp repack weights into extra CPU buffer types (AMX, CPU_REPACK). Off by "
        "default: on AMX CPUs (Sapphire Rapids) the AMX path segfaults (llama.cpp #20824).")
    embedded_start_timeout: float = Field(180.0, gt=0, description="Seconds the embedded model may take to load "
                                                                  "and pass its self-check.")
    embedded_token_timeout: float = Field(180.0, gt=0, description="Seconds without a token before the embedded "
                                                                  "model's worker is declared hung and restarted.")
    max_answer_tokens: int = Field(512, ge=16)
    temperature: float = Field(0.0, ge=0.0)
    seed: int = 42

    # --- citations -------------------------------------------------------------------------
    attribution: Literal["embedding", "lexical", "off"] = Field(
        "embedding", description="How sentences without a [n] marker are attributed to a source."
    )
    attribution_min_similarity: float = Field(
        0.45, description="A sentence is attributed only when its best source is at least this similar."
    )
    citation_min_support: float = Field(
        0.5, ge=0.0, le=1.0, description="A cited sentence must find this share of its own words (not the "
        "question's) in its source; else it is re-pointed to the source that has them, or removed.")

    # --- abstention (rag.answer.abstention) ---------------------------------------------------------
    # The defaults are the point bench/abstention.py chose on both bundled eval sets: the best
    # utility for a careful analyst with at most one answerable question in five refused per set.
    abstain_min_coverage: float = Field(
        0.0, ge=0.0, le=1.0, description="Refuse when the cited paragraphs hold less than this share of the "
        "question's key terms (0: off).")
    abstain_min_window_coverage: float = Field(
        0.34, ge=0.0, le=1.0, description="Refuse when the supporting sentences and their neighbours hold less "
        "than this share of the question's key terms (0: off).")
    abstain_min_source_coverage: float = Field(
        0.6, ge=0.0, le=1.0, description="Refuse when all the paragraphs shown to the model hold less than this "
        "share of the question's key terms (0: off).")
    abstain_max_refusal_probability: float = Field(
        0.2, ge=0.0, le=1.0, description="Refuse when the model was at least this likely to start with the refusal "
        "sentence instead of its answer (embedded backend; 1.0: off).")
    abstain_term_similarity: float = Field(
        0.7, ge=0.0, le=1.0, description="A question term also counts as found when a word of the passage is this "
        "similar under the embedder (paraphrases; 1.0: same word family only).")
    abstain_window_sentences: int = Field(1, ge=0, description="Neighbouring sentences counted around a quote.")
    refusal_related_min_coverage: float = Field(
        0.5, ge=0.0, le=1.0, description="A refusal cites the closest passage when it holds at least this share of "
        "the question's key terms (1.0: never).")
    abstain_check_answer_type: bool = Field(
        True, description="Refuse a 'how many' answer without a number, a 'when' answer without a date.")

    # --- follow-up questions ---------------------------------------------------------------
    followup_turns: int = Field(2, ge=0, description="Previous question/answer pairs used to rewrite a follow-up "
                                                      "into a standalone question (0: never rewrite).")
    followup_max_chars: int = Field(400, ge=50, description="Each previous message is cut to this many characters "
                                                             "in the rewrite prompt (prompt length is latency).")
    followup_max_tokens: int = Field(48, ge=8, description="Token cap for the rewritten question.")

    # --- questions in other languages ------------------------------------------------------
    translate_questions: bool = Field(True, description="Search with an English translation (one short LLM call) "
                                                        "when a question does not look English.")
    translation_max_tokens: int = Field(64, ge=8, description="Token cap for the translated question.")

    # --- web UI (rag serve) ----------------------------------------------------------------
    ui_host: str = Field("127.0.0.1", description="Address `rag serve` binds to (0.0.0.0 exposes it).")
    ui_port: int = Field(7860, ge=1, le=65535, description="Port `rag serve` listens on.")
    ui_auth: str | None = Field(None, description="'user:password' to require a login (off by default).")
    ui_examples: tuple[str, ...] = Field(
        ("What did Operation Sentinel seize?", "Who is Andrei Belyaninov?",
         "Who opened the supply-chain seminar?"),
        description="Example questions shown as buttons.")
    max_upload_bytes: int = Field(10_000_000, ge=1, description="Larger upload files are refused.")
    max_upload_text_bytes: int = Field(
        650_000, ge=1, description="Uploads whose text is larger are refused: about a minute of indexing on 2 cores "
        "(measured: 920 KB of report text indexed in 85 s). `rag index` has no such limit.")
    allow_uploads: bool | None = Field(
        None, description="Let the web UI add files to the corpus (unset: on for a loopback host or with a login).")
    workspace_corpus_dir: Path = Field(
        default_factory=lambda: _xdg("XDG_DATA_HOME", ".local/share") / "rag" / "corpus",
        description="Writable copy of the bundled reports that uploads go to when the corpus is the bundled sample.",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """Fill preset values underneath anything given explicitly or through the environment."""
        if not isinstance(data, dict):
            return data
        name = data.get("preset") or os.environ.get("RAG_PRESET") or "default"
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        env_set = {key[4:].lower() for key in os.environ if key.startswith("RAG_")}
        for key, value in PRESETS[name].items():
            if key not in data and key not in env_set:
                data[key] = value
        return data

    def resolved_corpus_dir(self) -> Path:
        return self.corpus_dir.expanduser().resolve()

    def resolved_index_dir(self) -> Path:
        return self.index_dir.expanduser().resolve()

    def is_first_run_default(self) -> bool:
        """The bundled sample in the default index location: the only index a read may build (on first use)."""
        default_dir = type(self).model_fields["index_dir"].get_default(call_default_factory=True)
        return (self.resolved_index_dir() == Path(default_dir).expanduser().resolve()
                and self.resolved_corpus_dir() == BUNDLED_CORPUS.resolve())
