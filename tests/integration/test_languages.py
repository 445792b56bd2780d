"""A question in another language with the real model: searched in English, answered in its own language, citing
the report that answers it with its English words. (Over the fakes: tests/unit/test_languages.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.pipeline import Pipeline
from rag.query.language import question_language
from rag.settings import Settings
from rag.types import MARKER
from tests.conftest import SENTINEL


@pytest.mark.llm
def test_the_spanish_sentinel_question_is_answered_in_spanish(bundled_index_dir: Path, model_cache_dir: Path) -> None:
    """A user's question once refused in English: its 1.5B translation asked who "incautated" Operation Sentinel,
    and the refusal check looked for that word in the reports."""
    pipeline = Pipeline(Settings(llm={"backend": "embedded", "model_cache_dir": model_cache_dir},
                                 index={"index_dir": bundled_index_dir}))
    answer = pipeline.ask("¿Qué incautó la Operación Sentinel?")
    assert not answer.refused, answer.text
    assert answer.language == "es" and question_language(MARKER.sub("", answer.text)) == "es", answer.text
    assert answer.citations and {c.doc_id for c in answer.citations} == {SENTINEL[0]}, answer.citations
    quotes = " ".join(c.quote for c in answer.citations)
    assert "seizures" in quotes, quotes  # the evidence as the report writes it, in English
