"""The limited search inside the store: FAISS through a selector (Flat, HNSW, IVF; an approximate index that comes
back short is completed exactly), BM25 with only the allowed rows scored, tombstones and segments on both
backends, and the scope through the retriever, the pipeline and the chat. The real embedder on a real index:
tests/integration/test_scoped_retrieval.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.documents.paragraphs import Chunk, Paragraph
from rag.errors import NoMatchingReport
from rag.pipeline import Pipeline
from rag.query.retrieval import Retriever
from rag.settings import BUNDLED_CORPUS, Settings
from rag.store.faiss_files import FaissSegment
from rag.store.index import SegmentedIndex
from rag.store.manifest import IndexedDocument, Manifest
from rag.types import Scope
from tests.fakes import FakeEmbedder, FakeLLM
from tests.unit.test_segments import _update, _write

DIM, DOCS, PARAGRAPHS = 16, 40, 25
WANTED = "d07.txt"  # 25 of 1,000 rows: too few for an approximate index's search to reach on its own
KINDS = {"Flat": "IndexFlat", "HNSW32": "IndexHNSWFlat", "IVF16,Flat": "IndexIVFFlat"}


def _synthetic(index_type: str) -> SegmentedIndex:
    """40 reports of 25 one-chunk paragraphs, random vectors; paragraph texts share words within a report."""
    rng = np.random.default_rng(7)
    paragraphs, chunks, documents = [], [], {}
    for d in range(DOCS):
        doc_id = f"d{d:02}.txt"
        documents[doc_id] = IndexedDocument(doc_id, f"Report {d}", None, "0" * 64, PARAGRAPHS)
        for n in range(1, PARAGRAPHS + 1):
            text = f"customs seizure number{n} topic{d} " + ("rare " if n % 2 else "")
            paragraphs.append(Paragraph(doc_id, n, text, 100 * n, 100 * n + len(text)))
            chunks.append(Chunk(doc_id, n, 100 * n, 100 * n + len(text), text))
    vectors = rng.standard_normal((len(chunks), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return SegmentedIndex(Manifest("synthetic", DIM, index_type, "/synthetic", "", documents), paragraphs, chunks,
                          vectors)


def _exact(index: SegmentedIndex, query: np.ndarray, doc_id: str, limit: int) -> list[tuple[str, int]]:
    scored = sorted(((-float(v @ query), c.doc_id, c.paragraph) for c, v in index.rows() if c.doc_id == doc_id))
    return [(doc, number) for _, doc, number in scored[:limit]]


@pytest.mark.parametrize(("index_type", "nprobe"), [("Flat", 32), ("HNSW32", 32), ("IVF16,Flat", 1), ("IVF16,Flat", 16)])
def test_faiss_searches_only_the_allowed_rows_and_returns_as_many_as_asked(
        index_type: str, nprobe: int, monkeypatch: pytest.MonkeyPatch) -> None:
    index = _synthetic(index_type)
    index.nprobe, index.efsearch = nprobe, 16
    segment = index.segments[0]
    assert isinstance(segment, FaissSegment) and type(segment.faiss).__name__ == KINDS[index_type]
    completed: list[int] = []
    exact = segment.exact_search
    monkeypatch.setattr(segment, "exact_search", lambda *a: completed.append(1) or exact(*a))
    query = np.asarray(segment.vectors[3 * PARAGRAPHS + 4])  # near a row of another report
    found = index.search(query, 10, frozenset({WANTED}))
    assert len(found) == 10 and {c.doc_id for c, _ in found} == {WANTED}
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    if index_type == "Flat" or completed:  # exact: the same ten as scoring the report's rows one by one
        assert [c.key for c, _ in found] == _exact(index, query, WANTED, 10)
    if (index_type, nprobe) == ("IVF16,Flat", 1):
        assert completed  # one probed list holds fewer than ten of the report's rows: completed exactly
    if index_type == "Flat":
        assert not completed  # a selector over an exact index never comes back short
    assert len(index.search(query, 40, frozenset({WANTED}))) == PARAGRAPHS  # all it holds, no more
    assert {what for _, what in segment._scoped} == {"chunks", "selector"}  # kept for the scope's next question
    assert index.search(query, 10, frozenset({"gone.txt"})) == []


def test_bm25_scores_only_the_allowed_paragraphs() -> None:
    index = _synthetic("Flat")
    everywhere = index.keyword_search("rare seizure", 10)
    assert {k.doc_id for k in everywhere} != {WANTED}
    limited = index.keyword_search("rare seizure", 10, frozenset({WANTED, "d31.txt"}))
    assert len(limited) == 10 and {k.doc_id for k in limited} <= {WANTED, "d31.txt"}
    assert all(k.paragraph % 2 for k in limited)  # the paragraphs holding "rare" rank first, as unlimited
    assert len(index.keyword_search("rare", 50, frozenset({WANTED}))) == 13  # every one holding the word
    assert index.keyword_search("topic7", 5, frozenset({"d08.txt"})) == []  # the word is only elsewhere


def test_a_limited_search_skips_tombstones_and_segments_without_the_reports(tmp_path: Path, backend: str) -> None:
    """r1 is edited (its old rows stay, deleted, in the first segment), r3 added: each limited search returns the
    live rows of the allowed reports only, from whichever segment holds them, on both backends."""
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for number in range(3):
        _write(corpus, number)
    _update(corpus, index_dir, backend)
    _write(corpus, 1, extra=" Tobacco was burnt.")
    _write(corpus, 3)
    index, _ = _update(corpus, index_dir, backend)
    assert len(index.segments) == 2
    vector = FakeEmbedder().encode(["tobacco smuggling in Narva"])[0]
    found = index.search(vector, 10, frozenset({"r1.txt"}))
    assert len(found) == 3 and {c.doc_id for c, _ in found} == {"r1.txt"}  # 3 paragraphs, the live ones
    assert any("burnt" in c.embed_text for c, _ in found)
    keys = index.keyword_search("tobacco Narva report", 10, frozenset({"r1.txt", "r3.txt"}))
    assert {k.doc_id for k in keys} == {"r1.txt", "r3.txt"} and len(keys) == len(set(keys)) == 6
    assert {c.doc_id for c, _ in index.search(vector, 10, frozenset({"r0.txt", "r3.txt"}))} == {"r0.txt", "r3.txt"}
    assert len(index.search(vector, 12)) == 12  # unlimited, as before


def _pipeline(fake_index_dir: Path, llm: FakeLLM) -> Pipeline:
    settings = Settings(index={"corpus_dir": BUNDLED_CORPUS, "index_dir": fake_index_dir}, preset="write-first")
    return Pipeline(settings, embedder=FakeEmbedder(), llm=llm)


def test_the_retriever_and_pipeline_answer_only_from_the_scope(fake_index_dir: Path) -> None:
    llm = FakeLLM()
    pipeline = _pipeline(fake_index_dir, llm)
    question = "What did Operation Sentinel seize?"
    assert "002_50d104ffb6a67dba.txt" in {h.doc_id for h in pipeline.retrieve(question, 5)}
    hits = pipeline.retrieve(question, 5, scope=Scope(("000*", "*4_9448*")))
    assert len(hits) == 5 and {h.doc_id for h in hits} <= {"000_75dd1b9587c7c497.txt", "004_94483c790ad03595.txt"}
    dated = Retriever(pipeline.index, FakeEmbedder()).search(question, 4, Scope.of(since="2021-01-01"))
    assert {h.doc_id for h in dated} == {"001_14bcd5b15b6cd4c8.txt"} and len(dated) == 4
    answer = pipeline.ask(question, scope=Scope(("004*",)))
    assert answer.sources and {c.doc_id for c in answer.sources} == {"004_94483c790ad03595.txt"}
    assert {c.doc_id for c in answer.citations} <= {"004_94483c790ad03595.txt"}
    calls = len(llm.calls)
    with pytest.raises(NoMatchingReport, match=r"^no reports matching 'nothing\*': the index holds 5 reports"):
        pipeline.ask(question, scope=Scope(("nothing*",)))
    assert len(llm.calls) == calls  # refused before any model ran


def test_the_chat_limits_its_next_questions_and_its_picker_follows_the_index(fake_index_dir: Path,
                                                                            tmp_path: Path) -> None:
    from ui.app import ChatApp
    from ui.filters import ReportFilter

    settings = Settings(index={"corpus_dir": BUNDLED_CORPUS, "index_dir": fake_index_dir},
                        ui={"workspace_corpus_dir": tmp_path / "workspace"})
    pipeline = Pipeline(settings, embedder=FakeEmbedder(), llm=FakeLLM())
    chat = ChatApp(pipeline)
    updates = [copy.deepcopy(u) for u in chat.respond("Who opened the seminar?", 3, [],
                                                      ["004_94483c790ad03595.txt"], "2009-01-01", "")]
    html = updates[-1][0][-1]["content"]
    assert "004_94483c790ad03595.txt ¶" in html and "002_50d104ffb6a67dba.txt" not in html
    *_, (shown, _, _) = list(chat.respond("Who opened the seminar?", 3, [], [], "2030-01-01", ""))
    assert 'class="rag-error"' in shown[-1]["content"] and "no reports dated from 2030-01-01" in shown[-1]["content"]
    *_, (shown, _, _) = list(chat.respond("Who?", 3, [], [], "", "soon"))
    assert "until &#x27;soon&#x27; is not a date" in shown[-1]["content"]

    limits = ReportFilter(pipeline)
    choices = limits.choices()
    assert [v for _, v in choices] == sorted(pipeline.index.manifest.documents, key=lambda d: (
        pipeline.index.document(d).title.lower(), d))
    assert ("10th International Exhibition, Customs 2009, in Moscow (002_50d104ffb6a67dba.txt, 2009-10-27)",
            "002_50d104ffb6a67dba.txt") in choices
    refreshed: Any = limits.refresh(["004_94483c790ad03595.txt", "deleted.txt", "00*"])
    assert refreshed.value == ["004_94483c790ad03595.txt", "00*"] and len(refreshed.choices) == 5
    assert ReportFilter(Pipeline(Settings(index={"corpus_dir": tmp_path, "index_dir": tmp_path / "none"}),
                                 embedder=FakeEmbedder(), llm=FakeLLM())).choices() == []
