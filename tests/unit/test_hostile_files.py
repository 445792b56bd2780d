"""Files crafted to leak or to stall: each is skipped (indexing) or refused (upload) in one line, quickly.

A probe run found: a file swapped for a link to ``/etc/passwd`` between listing and reading was indexed;
a 172 KB ``.docx`` holding 40 MB of XML kept ``rag index`` busy for over ten minutes, and a 41 KB upload
took 25.6 s before it was refused; a folder path longer than 4,096 bytes stopped the whole index with
"unexpected OSError: [Errno 36] File name too long".
"""

from __future__ import annotations

import dataclasses
import errno
import io
import os
import time
import zipfile
from pathlib import Path

import pytest

from rag.documents.corpus import OutsideCorpus, read_inside, scan_corpus
from rag.documents.limits import ReadBudget, ReadLimits, UnreadableFile
from rag.documents.readers import load_documents
from rag.errors import UploadRejected
from rag.indexing import update_index
from rag.settings import Settings
from tests.fakes import FakeEmbedder

SECRET = Path("/etc/passwd")


def _settings(corpus: Path, index_dir: Path, **index: object) -> Settings:
    return Settings(index={"corpus_dir": corpus, "index_dir": index_dir, **index})


# --- a file swapped for a link after it was listed ------------------------------------------------------------

def test_a_file_swapped_for_a_link_after_listing_is_not_read(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    report = corpus / "report.txt"
    report.write_text("Customs officers seized amber.\n", encoding="utf-8")
    listed = scan_corpus(corpus, [".txt"]).files
    assert listed == [report.resolve()]
    report.unlink()
    report.symlink_to(SECRET)  # the race: the name now leads outside
    documents, skipped = load_documents(corpus.resolve(), listed)
    assert documents == [] and len(skipped) == 1
    assert "symbolic link" in skipped[0].reason and "root:" not in skipped[0].reason


def test_a_folder_swapped_for_a_link_after_listing_is_not_read(tmp_path: Path) -> None:
    corpus, elsewhere = tmp_path / "corpus", tmp_path / "elsewhere"
    (corpus / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    (corpus / "sub" / "report.txt").write_text("Customs officers seized amber.\n", encoding="utf-8")
    (elsewhere / "report.txt").write_text("a private letter\n", encoding="utf-8")
    listed = scan_corpus(corpus, [".txt"]).files
    (corpus / "sub" / "report.txt").unlink()
    (corpus / "sub").rmdir()
    (corpus / "sub").symlink_to(elsewhere, target_is_directory=True)
    documents, skipped = load_documents(corpus.resolve(), listed)
    assert documents == [] and "outside the corpus folder" in skipped[0].reason


def test_read_inside_refuses_links_fifos_and_reads_regular_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"text")
    (tmp_path / "link.txt").symlink_to(tmp_path / "a.txt")
    os.mkfifo(tmp_path / "pipe.txt")
    assert read_inside(tmp_path, tmp_path / "a.txt") == b"text"
    with pytest.raises(OutsideCorpus) as link:
        read_inside(tmp_path, tmp_path / "link.txt")
    assert link.value.errno == errno.ELOOP
    started = time.monotonic()
    with pytest.raises(OutsideCorpus, match="not a regular file"):
        read_inside(tmp_path, tmp_path / "pipe.txt")  # never waits for a writer
    assert time.monotonic() - started < 5
    assert read_inside(tmp_path, tmp_path / "link.txt", follow_symlinks=True) == b"text"  # the user allowed links


def test_an_upload_swapped_for_a_link_is_not_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.app import uploads

    corpus, inbox = tmp_path / "corpus", tmp_path / "inbox"
    corpus.mkdir()
    inbox.mkdir()
    upload = inbox / "notes.txt"
    upload.write_text("Customs officers seized amber.\n", encoding="utf-8")
    checked = uploads._regular_file

    def swapped_after_the_check(source: Path, shown: str, settings: Settings) -> Path:
        target = checked(source, shown, settings)
        target.unlink()
        target.symlink_to(SECRET)
        return target

    monkeypatch.setattr(uploads, "_regular_file", swapped_after_the_check)
    with pytest.raises(UploadRejected, match="symbolic link"):
        uploads.save_upload(upload, "notes.txt", corpus, _settings(corpus, tmp_path / "index"))
    assert [p.name for p in corpus.iterdir()] == []


# --- Word and PDF files that cost too much to read ------------------------------------------------------------

def _docx_bomb(paragraphs: int) -> bytes:
    """A valid .docx whose document.xml is tens of MB of tiny paragraphs: it packs a hundred- to thousandfold."""
    from docx import Document

    out = io.BytesIO()
    Document().save(out)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as source:
        parts = {info.filename: source.read(info.filename) for info in source.infolist()}
    body = b"<w:p><w:r><w:t>x</w:t></w:r></w:p>" * paragraphs
    xml = parts["word/document.xml"]
    parts["word/document.xml"] = xml.replace(b"<w:body>", b"<w:body>" + body, 1)
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return packed.getvalue()


def test_a_word_zip_bomb_is_skipped_before_parsing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    bomb = _docx_bomb(1_200_000)  # ~40 MB of XML
    assert len(bomb) < 400_000
    (corpus / "bulletin.docx").write_bytes(bomb)
    (corpus / "report.txt").write_text("Customs officers seized amber.\n", encoding="utf-8")
    started = time.monotonic()
    _, report = update_index(corpus, tmp_path / "index", FakeEmbedder(), _settings(corpus, tmp_path / "index").index)
    assert time.monotonic() - started < 10
    assert report.added == ["report.txt"]
    assert [s.doc_id for s in report.skipped] == ["bulletin.docx"]
    assert "times its packed size" in report.skipped[0].reason


def test_a_word_file_that_takes_too_long_is_skipped_at_its_time_limit(tmp_path: Path) -> None:
    from rag.documents.word import read_docx

    raw = _docx_bomb(25_000)  # under the ratio's size floor (1 MiB of XML): only the clock stops it
    limits = dataclasses.replace(ReadLimits.of(Settings().index), seconds=0.05)
    started = time.monotonic()
    with pytest.raises(UnreadableFile, match="longer than 0.05 s"):
        read_docx(raw, ReadBudget(limits))
    assert time.monotonic() - started < 5


def test_a_word_upload_is_refused_as_soon_as_its_text_passes_the_limit(tmp_path: Path) -> None:
    from rag.app.uploads import save_upload

    corpus, inbox = tmp_path / "corpus", tmp_path / "inbox"
    corpus.mkdir()
    inbox.mkdir()
    (inbox / "long.docx").write_bytes(_docx_bomb(20_000))
    settings = Settings(index={"corpus_dir": corpus, "index_dir": tmp_path / "index"},
                        ui={"max_upload_text_bytes": 5_000})
    started = time.monotonic()
    with pytest.raises(UploadRejected, match="its text is more than"):
        save_upload(inbox / "long.docx", "long.docx", corpus, settings)
    assert time.monotonic() - started < 5 and list(corpus.iterdir()) == []


def test_a_pdf_with_too_many_pages_is_skipped_before_any_page_is_read(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    drawing = canvas.Canvas(str(corpus / "pages.pdf"))
    for number in range(30):
        drawing.drawString(72, 720, f"Page {number}: customs officers seized amber.")
        drawing.showPage()
    drawing.save()
    (corpus / "report.txt").write_text("Customs officers seized amber.\n", encoding="utf-8")
    settings = _settings(corpus, tmp_path / "index", max_pdf_pages=20)
    _, report = update_index(corpus, tmp_path / "index", FakeEmbedder(), settings.index)
    assert [s.doc_id for s in report.skipped] == ["pages.pdf"] and "more than 20" in report.skipped[0].reason


# --- a path longer than the system allows ---------------------------------------------------------------------

def test_a_folder_too_deep_for_the_system_is_skipped_and_the_rest_indexed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.txt").write_text("Customs officers seized amber.\n", encoding="utf-8")
    descriptor = os.open(corpus, os.O_RDONLY)
    try:
        for _ in range(20):  # 20 x 250 bytes: past PATH_MAX (4,096), made one level at a time
            os.mkdir("d" * 250, dir_fd=descriptor)
            deeper = os.open("d" * 250, os.O_RDONLY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = deeper
        leaf = os.open("deep.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=descriptor)
        os.write(leaf, b"A deep report.\n")
        os.close(leaf)
    finally:
        os.close(descriptor)
    index_dir = tmp_path / "index"
    _, report = update_index(corpus, index_dir, FakeEmbedder(), _settings(corpus, index_dir).index)
    assert report.added == ["report.txt"]
    assert report.skipped and all(len(s.doc_id.encode()) > 4000 or "too long" in s.reason for s in report.skipped)
