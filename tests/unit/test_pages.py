"""A paragraph's page, as data: from ``Document.pages`` to ``Paragraph``, the index records, ``Citation``, and what
``rag ask`` (text and ``--json``) and the UI (``/ask`` markdown, source cards) show.

No model: ``FakeEmbedder`` and ``FakeLLM`` over a real FAISS index in a temporary folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.documents.paragraphs import split_paragraphs
from rag.documents.readers import Document
from rag.indexing import update_index
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.store.index import CURRENT, SegmentedIndex
from rag.store.integrity import file_records, read_pointer, write_pointer
from rag.store.manifest import FORMAT_VERSION
from rag.types import Answer, Citation
from tests.fakes import FakeEmbedder, FakeLLM, answer_citing
from tests.pdf_fixture import write_text_pdf
from tests.pdf_reports import write_report_pdf
from ui.render import answer_markdown, source_card

QUESTION = "How many trucks did the northern border posts check?"
CLAIM = "The officers of the northern border posts checked 118 trucks"


def test_a_paragraph_gets_the_page_it_starts_on() -> None:
    text = "Title\n\nFirst page paragraph.\n\nSecond page paragraph\ncontinues.\n\nThird page."
    starts = ((0, 1), (text.index("Second"), 2), (text.index("Third"), 3))
    paragraphs = split_paragraphs(Document("r.pdf", text, "Title", None, "0" * 64, starts))
    assert [(p.paragraph, p.page) for p in paragraphs] == [(1, 1), (2, 1), (3, 2), (4, 3)]
    assert all(text[p.start:p.end] == p.text for p in paragraphs)
    unpaged = split_paragraphs(Document("r.txt", text, "Title", None, "0" * 64))
    assert {p.page for p in unpaged} == {None}


def test_the_label_shows_the_page_beside_the_document_wide_paragraph() -> None:
    cited = Citation("report.pdf", 137, "Text.", 0.5, page=4)
    assert cited.label() == "report.pdf p. 4 ¶137" and cited.key == ("report.pdf", 137)
    assert Citation("002.txt", 9, "Text.", 0.5).label() == "002.txt ¶9"
    data = Answer("q", "Text [1].", False, citations=[cited, Citation("a.txt", 2, "T.", 0.1)]).to_dict()
    assert [(c["doc_id"], c["paragraph"], c["page"]) for c in data["citations"]] == [
        ("report.pdf", 137, 4), ("a.txt", 2, None)]


def _downgrade_to_format_1(index_dir: Path) -> None:
    """Rewrite the live index as the format-1 program wrote it: one version folder holding vectors, FAISS and
    JSONL records, no ``page``, no ``reader``, no segments."""
    import faiss
    import numpy as np

    index = SegmentedIndex.load(index_dir)
    version = index_dir / "v-20200101T000000-0000f0f1"
    version.mkdir()
    np.save(version / "vectors.npy", index.vectors)
    faiss.write_index(index.faiss, str(version / "index.faiss"))
    (version / "chunks.jsonl").write_text("".join(json.dumps(asdict(c)) + "\n" for c in index.chunks), encoding="utf-8")
    (version / "paragraphs.jsonl").write_text("".join(
        json.dumps({k: v for k, v in asdict(p).items() if k not in ("page", "boxes")}) + "\n"
        for p in index.paragraphs), encoding="utf-8")
    manifest = json.loads((index_dir / read_pointer(index_dir).version / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(format_version=1, index_type="Flat", files=file_records(version))
    del manifest["segments"]
    for document in manifest["documents"].values():
        del document["reader"], document["segment"]
    (version / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    os.replace(write_pointer(index_dir, version, "downgrade"), index_dir / CURRENT)


def test_pages_are_stored_and_a_format_1_index_loads_then_rereads_only_its_pdfs(tmp_path: Path) -> None:
    corpus, index_dir = tmp_path / "reports", tmp_path / "index"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Notes\n\nThe Narva crossing opened in 2011.\n", encoding="utf-8")
    write_text_pdf(corpus / "b.pdf", ["Pdf report title", "", "The Tallinn office seized 42 kg of tobacco."])
    settings = Settings(index={"corpus_dir": corpus, "index_dir": index_dir}).index
    index, _ = update_index(corpus, index_dir, FakeEmbedder(), settings)
    assert {(p.doc_id, p.page) for p in SegmentedIndex.load(index_dir).paragraphs} == {("a.txt", None), ("b.pdf", 1)}
    assert index.manifest.format_version == FORMAT_VERSION and index.document("b.pdf").reader

    _downgrade_to_format_1(index_dir)
    old = SegmentedIndex.load(index_dir, verify=True)  # loads: a missing page reads as None
    assert old.manifest.format_version == 1 and {p.page for p in old.paragraphs} == {None}

    index, report = update_index(corpus, index_dir, FakeEmbedder(), settings)
    assert report.unchanged == ["a.txt"] and report.updated == ["b.pdf"]  # only the PDF is read again
    assert index.manifest.format_version == FORMAT_VERSION and len(index.segments) == 1  # upgraded: one segment, no JSONL
    assert not list(index_dir.glob("*/*.jsonl"))
    assert {(p.doc_id, p.page) for p in SegmentedIndex.load(index_dir).paragraphs} == {("a.txt", None), ("b.pdf", 1)}


@pytest.fixture(scope="module")
def pdf_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A corpus of the two-column PDF report (``tests.pdf_reports``) and a text file, indexed with ``FakeEmbedder``."""
    folder = tmp_path_factory.mktemp("pdf-corpus")
    corpus, index_dir = folder / "reports", folder / "index"
    corpus.mkdir()
    write_report_pdf(corpus / "report.pdf")
    (corpus / "notes.txt").write_text("Notes\n\nThe Narva crossing opened a second lane in 2011.\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("rag.documents.pdf.shutil.which", lambda name: None)  # the scanned page is skipped
        update_index(corpus, index_dir, FakeEmbedder(), Settings(index={"corpus_dir": corpus, "index_dir": index_dir}).index)
    yield index_dir


def _pipeline(index_dir: Path, llm: FakeLLM) -> Pipeline:
    return Pipeline(Settings(index={"index_dir": index_dir}, citations={"write_answer": True, "add_best_sentence": "off"}),
                    embedder=FakeEmbedder(), llm=llm)


def test_an_answer_from_a_pdf_cites_the_page_the_paragraph_starts_on(pdf_index: Path) -> None:
    answer = _pipeline(pdf_index, FakeLLM(answer_citing("118 trucks", CLAIM))).ask(QUESTION)
    assert not answer.refused and answer.text == f"{CLAIM} [1]."
    [citation] = answer.citations
    # Paragraph 6 starts at the foot of page 1 and ends on page 2: it is cited on the page where it starts.
    assert (citation.doc_id, citation.paragraph, citation.page) == ("report.pdf", 6, 1)
    assert citation.label() == "report.pdf p. 1 ¶6" and "118 trucks" in citation.quote
    assert [box[0] for box in citation.boxes] == [1, 2]  # where it is drawn, read back from the index
    assert all(s.page is None for s in answer.sources if s.doc_id == "notes.txt")
    assert answer.to_dict()["citations"][0]["page"] == 1

    markdown = answer_markdown(answer)
    assert "[1] **report.pdf p. 1 ¶6**" in markdown
    assert "report.pdf p. 1 ¶6" in source_card(1, citation)

    table = _pipeline(pdf_index, FakeLLM(answer_citing("Tallinn | 12", "Tallinn made 12 seizures"))).ask(
        "How many seizures did Tallinn make?")
    assert [(c.paragraph, c.page) for c in table.citations] == [(9, 2)]


def test_rag_ask_prints_the_page_and_json_carries_it(pdf_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.app import cli

    monkeypatch.setattr(cli, "_logging", lambda verbose: None)  # keep pytest's log capture in place
    monkeypatch.setenv("RAG_CITATIONS__WRITE_ANSWER", "true")
    monkeypatch.setenv("RAG_CITATIONS__ADD_BEST_SENTENCE", "off")
    monkeypatch.setattr(cli, "Pipeline", lambda settings, progress=False: Pipeline(
        settings, embedder=FakeEmbedder(), llm=FakeLLM(answer_citing("118 trucks", CLAIM))))
    runner = CliRunner()
    shown = runner.invoke(cli.app, ["ask", QUESTION, "--index-dir", str(pdf_index)])
    assert shown.exit_code == 0, shown.output
    assert f"{CLAIM} [1]." in shown.output
    assert "(report.pdf p. 1 ¶6)" in shown.output and "118 trucks" in shown.output  # the evidence, quoted first
    assert shown.output.index("118 trucks") < shown.output.index(f"{CLAIM} [1].")

    as_json = runner.invoke(cli.app, ["ask", "--json", QUESTION, "--index-dir", str(pdf_index)])
    assert as_json.exit_code == 0, as_json.output
    [citation] = json.loads(as_json.stdout)["citations"]
    assert (citation["doc_id"], citation["paragraph"], citation["page"]) == ("report.pdf", 6, 1)

    found = runner.invoke(cli.app, ["search", "118 trucks northern border posts", "--k", "1",
                                    "--index-dir", str(pdf_index)])
    assert found.exit_code == 0 and "report.pdf p. 1 ¶6:" in found.output
