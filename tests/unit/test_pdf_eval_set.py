"""The customs-pdf eval set: the bundled reports written as PDFs (reproducibly), and the same questions with
their evidence on the PDF paragraphs that hold the same text; a cited paragraph that cannot be found fails.

No model: the PDFs are read by the real reader and indexed with ``FakeEmbedder``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.evalset import BUNDLED_SET, load_eval_set, missing_evidence, resolve_set, unsupported_facts
from eval.pdf_corpus import FOOTER, UnmappedEvidence, build, paragraph_map
from rag.documents.paragraphs import split_paragraphs
from rag.documents.readers import Document, load_document
from rag.indexing import update_index
from rag.settings import BUNDLED_CORPUS, Settings
from rag.store.index import SegmentedIndex
from tests.fakes import FakeEmbedder


def _texts(corpus: Path, doc_id: str) -> dict[int, str]:
    return {p.paragraph: " ".join(p.text.split()) for p in split_paragraphs(load_document(corpus, corpus / doc_id))}


def test_the_pdf_set_asks_the_same_questions_with_its_evidence_on_the_same_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    set_path, corpus = resolve_set("customs-pdf")
    assert corpus is not None and set_path.is_relative_to(tmp_path / "cache")
    pdf, txt = load_eval_set(set_path), load_eval_set(BUNDLED_SET)
    assert [(q.id, q.question, q.facts, q.answerable) for q in pdf] == [
        (q.id, q.question, q.facts, q.answerable) for q in txt]
    pairs = [(a, b) for p, t in zip(pdf, txt) for a, b in zip(p.evidence + p.related, t.evidence + t.related)]
    assert len(pairs) >= 70 and all(a.doc_id == b.doc_id.replace(".txt", ".pdf") for a, b in pairs)
    for a, b in pairs:
        assert _texts(corpus, a.doc_id)[a.paragraph] == _texts(BUNDLED_CORPUS, b.doc_id)[b.paragraph], a

    documents = [load_document(corpus, path) for path in sorted(corpus.glob("*.pdf"))]
    assert len(documents) == 5 and all(len({start for start, _ in d.pages}) >= 2 for d in documents)  # 2+ pages
    assert not [d.doc_id for d in documents if FOOTER in d.text or "Page 1 of" in d.text]  # furniture is gone
    index_dir = tmp_path / "index"
    update_index(corpus, index_dir, FakeEmbedder(), Settings(index={"corpus_dir": corpus, "index_dir": index_dir}).index)
    index = SegmentedIndex.load(index_dir)
    assert missing_evidence(pdf, index) == [] and unsupported_facts(pdf, index) == []  # what `rag eval` checks

    written = set_path.stat().st_mtime_ns
    assert resolve_set("customs-pdf") == (set_path, corpus) and set_path.stat().st_mtime_ns == written  # reused


def test_the_pdfs_and_the_set_are_the_same_bytes_every_time(tmp_path: Path) -> None:
    first, second = build(tmp_path / "a"), build(tmp_path / "b")
    assert first[0].read_bytes() == second[0].read_bytes()
    names = sorted(p.name for p in first[1].iterdir())
    assert len(names) == 5 and names == sorted(p.name for p in second[1].iterdir())
    assert all((first[1] / n).read_bytes() == (second[1] / n).read_bytes() for n in names)


def _document(doc_id: str, *paragraphs: str) -> Document:
    return Document(doc_id, "\n\n".join(paragraphs), paragraphs[0], None, "0" * 64)


def test_a_cited_paragraph_the_pdf_does_not_hold_as_one_paragraph_fails_naming_it() -> None:
    txt = _document("a.txt", "Title", "Customs seized 5 kg.\nThe ship was searched.", "Same.", "Same.")
    assert paragraph_map(txt, _document("a.pdf", "Title", "Cover note.", "Customs seized 5 kg. The ship was  searched.",
                                        "Same.", "Same."), {2, 3, 4}) == {2: 3, 3: 4, 4: 5}  # by text, not number
    split = _document("a.pdf", "Title", "Customs seized 5 kg.", "The ship was searched.", "Same.", "Same.")
    with pytest.raises(UnmappedEvidence, match=r"a.txt ¶2 is not one paragraph of a.pdf: 'Customs seized"):
        paragraph_map(txt, split, {2})
    assert paragraph_map(txt, split, {4}) == {4: 5}  # only the cited paragraphs must be found
    with pytest.raises(UnmappedEvidence, match="a.txt has no paragraph 9"):
        paragraph_map(txt, split, {9})
    once = _document("a.pdf", "Title", "Customs seized 5 kg. The ship was searched.", "Same.")
    with pytest.raises(UnmappedEvidence, match="a.txt ¶3 is not one paragraph"):  # a repeated text lost once
        paragraph_map(txt, once, {3})


def test_the_converted_rows_keep_everything_but_the_evidence_numbers(tmp_path: Path) -> None:
    set_path, _ = build(tmp_path / "set")
    rows = [json.loads(line) for line in set_path.read_text(encoding="utf-8").splitlines()]
    source = [json.loads(line) for line in BUNDLED_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    strip = ("evidence", "related")
    assert [{k: v for k, v in r.items() if k not in strip} for r in rows] == [
        {k: v for k, v in r.items() if k not in strip} for r in source]
