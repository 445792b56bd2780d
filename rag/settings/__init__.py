"""One validated settings object for the whole pipeline, in sections.

Every tunable lives here so that modules carry no magic constants, and each factory receives
only its section (``make_llm(settings.llm)``). Values come, in rising priority, from the
defaults, a named preset (a JSON file, ``rag.settings.presets``), the environment and explicit
keyword arguments (what the CLI flags pass).

Example::

    from rag.settings import Settings
    s = Settings.from_name("fast", k=3)      # preset, then an explicit override (old flat name)
    s = Settings(retrieval={"k": 3})         # the same, sectioned; s.retrieval.k == 3
    s = Settings()                           # RAG_RETRIEVAL__K=8 (or the old RAG_K=8) wins over the preset

Sections: ``index``, ``retrieval``, ``llm``, ``citations``, ``abstention``, ``questions``, ``ui``
(``rag.settings.sections``). New-style variables use the nested delimiter: ``RAG_LLM__OLLAMA_MODEL``.

Old flat names, as keyword arguments and as ``RAG_<NAME>`` variables, keep working
(``rag.settings.legacy.LEGACY_NAMES``; a new-style variable wins over an old one)::

    corpus_dir, index_dir, index_type, extensions, max_file_bytes,     -> index.<same name>
      follow_symlinks, embedder, embed_batch_size, chunk_overlap_sentences, window_sentences,
      flat_max_vectors, large_index_type, hnsw_ef_search, ivf_nprobe, max_segments, max_deleted_fraction,
      max_read_seconds, max_pdf_pages, max_unpacked_bytes, max_compression_ratio
    index_uri, index_collection                                        -> index.uri, index.collection
    k, rrf_k, candidates, max_question_chars, min_source_score_ratio,  -> retrieval.<same name>
      max_source_chars
    retrieval                                                          -> retrieval.mode
    llm                                                                -> llm.backend
    ollama_host, ollama_model, ollama_timeout, ollama_probe_timeout,   -> llm.<same name>
      gguf_path, model_cache_dir, n_ctx, n_threads, n_batch, n_ubatch, flash_attn,
      embedded_start_timeout, embedded_token_timeout, max_answer_tokens, temperature, seed
    llama_extra_buffers                                                -> llm.extra_buffers
    attribution, attribution_min_similarity                            -> citations.<same name>
    citation_min_support                                               -> citations.min_support
    abstain_min_coverage, abstain_min_window_coverage,                 -> abstention.<name without abstain_>
      abstain_min_source_coverage, abstain_max_refusal_probability,
      abstain_term_similarity, abstain_window_sentences, abstain_check_answer_type
    refusal_related_min_coverage                                       -> abstention.refusal_related_min_coverage
    followup_turns, followup_max_chars, followup_max_tokens,           -> questions.<same name>
      translation_max_tokens
    translate_questions                                                -> questions.translate
    ui_host, ui_port, ui_auth, ui_examples                             -> ui.host, ui.port, ui.auth, ui.examples
    max_upload_bytes, max_upload_text_bytes, allow_uploads,            -> ui.<same name>
      workspace_corpus_dir, max_upload_read_seconds, temp_dir
    OLLAMA_HOST (variable only, below RAG_OLLAMA_HOST)                 -> llm.ollama_host
"""

from __future__ import annotations

from rag.settings.core import Settings
from rag.settings.legacy import LEGACY_ENV, LEGACY_NAMES
from rag.settings.presets import PresetError, available_presets, load_preset
from rag.settings.sections import (
    BUNDLED_CORPUS,
    DEFAULT_EMBEDDER,
    PROJECT_ROOT,
    SECTIONS,
    AbstentionSettings,
    CitationSettings,
    IndexSettings,
    LLMSettings,
    QuestionSettings,
    RetrievalSettings,
    UISettings,
)

__all__ = [
    "BUNDLED_CORPUS", "DEFAULT_EMBEDDER", "LEGACY_ENV", "LEGACY_NAMES", "PROJECT_ROOT", "SECTIONS",
    "AbstentionSettings", "CitationSettings", "IndexSettings", "LLMSettings", "PresetError", "QuestionSettings",
    "RetrievalSettings", "Settings", "UISettings", "available_presets", "load_preset",
]
