"""A question limited to some reports, over a real index on disk built with the real embedder, on both backends
(FAISS files and Milvus Lite): k paragraphs come back, all from the allowed reports, where filtering the
unlimited ranking afterwards would leave fewer. And the flags of `rag search` / `rag ask` as a user runs them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embeddings import Embedder
from rag.errors import NoMatchingReport
from rag.indexing import update_index
from rag.query.retrieval import Retriever
from rag.settings import BUNDLED_CORPUS
from rag.store.index import SegmentedIndex
from rag.types import Scope
from tests.conftest import BACKENDS, SENTINEL_QUESTION, settings_for
from tests.integration.test_cli import _one_line_error, rag

VISIT = "000_75dd1b9587c7c497.txt"  # 18 paragraphs, none about Operation Sentinel
SEMINAR = "004_94483c790ad03595.txt"
K = 8


@pytest.fixture()
def index(backend: str, bundled_index: SegmentedIndex, embedder: Embedder, tmp_path: Path) -> Iterator[SegmentedIndex]:
    if backend == "faiss":
        yield bundled_index
        return
    directory = tmp_path / "milvus-index"
    built, _ = update_index(BUNDLED_CORPUS, directory, embedder,
                            settings_for(BUNDLED_CORPUS, directory, index=BACKENDS[backend]).index)
    yield built


@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_a_limited_question_gets_k_paragraphs_all_from_the_allowed_report(index: SegmentedIndex, embedder: Embedder,
                                                                           mode: str) -> None:
    retriever = Retriever(index, embedder, mode)
    unlimited = retriever.search(SENTINEL_QUESTION, K)
    assert sum(h.doc_id == VISIT for h in unlimited) < K  # filtering these afterwards would leave fewer than k
    limited = retriever.search(SENTINEL_QUESTION, K, Scope(("000*",)))
    assert len(limited) == K and {h.doc_id for h in limited} == {VISIT}
    assert len({h.key for h in limited}) == K and all(h.title and h.paragraph.text for h in limited)
    # the store's own searches, below the fusion: as many rows as asked, only the report's
    vector = embedder.encode([SENTINEL_QUESTION])[0]
    chunks = index.search(vector, 12, frozenset({VISIT}))
    assert len(chunks) == 12 and {c.doc_id for c, _ in chunks} == {VISIT}
    assert {k.doc_id for k in index.keyword_search("customs Moscow", 10, frozenset({VISIT, SEMINAR}))} <= {VISIT, SEMINAR}


def test_a_date_range_keeps_the_reports_dated_inside_it(index: SegmentedIndex, embedder: Embedder) -> None:
    scope = Scope.of(since="2009-06-01", until="2010-12-31")
    inside = {d for d, document in index.manifest.documents.items() if scope.holds_date(document.date)}
    assert 0 < len(inside) < len(index.manifest.documents)
    hits = Retriever(index, embedder).search(SENTINEL_QUESTION, K, scope)
    assert len(hits) == K and {h.doc_id for h in hits} <= inside
    with pytest.raises(NoMatchingReport, match=r"^no reports dated from 2030-01-01: the index holds 5 reports, "
                                               r"dated \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d"):
        Retriever(index, embedder).search(SENTINEL_QUESTION, K, Scope.of(since="2030-01-01"))


def test_rag_search_and_ask_take_the_flags(bundled_index_dir: Path) -> None:
    result = rag("search", "Who attended the seminar?", "--k", "5", "--doc", "004*", "--since", "2009-01-01",
                 "--index-dir", str(bundled_index_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 5 and all(f"{SEMINAR} ¶" in line for line in lines), lines
    _one_line_error(rag("ask", "What was seized?", "--doc", "nothing*", "--index-dir", str(bundled_index_dir)),
                    "no reports matching 'nothing*'", "the index holds 5 reports")
    _one_line_error(rag("search", "x", "--until", "2009-02-30", "--index-dir", str(bundled_index_dir)),
                    "--until", "2009-02-30")
