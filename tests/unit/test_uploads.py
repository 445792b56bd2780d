"""Uploads: safe names, refused files with a one-line reason, no silent overwrite, where uploads go. Indexing them
with the real embedder: tests/integration/test_uploads.py."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from rag.app.uploads import (
    MAX_NAME_BYTES,
    SEEDED_MARKER,
    safe_file_name,
    save_upload,
    uploads_allowed,
    with_writable_corpus,
    writable_corpus,
)
from rag.errors import UploadRejected
from rag.settings import BUNDLED_CORPUS, Settings
from tests.conftest import settings_for

NEW_REPORT = """Harbour inspection in Port Aldeney

12 March 2024

Customs officers in Port Aldeney inspected 31 containers during Operation Bluefin.

The inspection found 740 kg of undeclared saffron hidden in shipments of frozen fish.
"""


def _file(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / "incoming" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.mark.parametrize(("sent", "saved"), [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\boot.ini.md", "boot.ini.md"),
    ("/abs/path/report.html", "report.html"),
    (".hidden.txt", "hidden.txt"),
    ("..", "upload"),
    ("", "upload"),
    ("rapport d'été 2024.md", "rapport d_été 2024.md"),
    ("a<script>b.html", "a_script_b.html"),
    ("Q3\x00report.pdf", "Q3_report.pdf"),
    ("😀😀.md", "upload.md"),
    ("name.txt. ", "name.txt"),
])
def test_safe_file_name(sent: str, saved: str) -> None:
    assert safe_file_name(sent) == saved


def test_safe_file_name_is_short_and_keeps_its_extension() -> None:
    name = safe_file_name("x" * 500 + ".pdf")
    assert len(name) <= 120 and name.endswith(".pdf")


def test_a_path_traversal_name_lands_inside_the_corpus(tmp_path: Path, corpus: Path) -> None:
    source = _file(tmp_path, "upload.txt", NEW_REPORT)
    saved = save_upload(source, "../../../escaped.txt", corpus, settings_for(corpus, tmp_path / "index"))
    assert saved.path == corpus / "escaped.txt" and saved.doc_id == "escaped.txt"
    assert saved.path.read_text() == NEW_REPORT
    assert not (corpus.parent / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("scan.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file"),
    ("notes.md", "Caf\xe9 au lait, r\xe9sum\xe9 of the visit.".encode("latin-1"), "not UTF-8"),
    ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
    ("empty.txt", b"", "empty"),
    ("blank.txt", b"\n\n   \n", "no text"),
    ("tool.exe", b"MZ\x90\x00", "unsupported file type .exe"),
    ("report.odt", b"PK\x03\x04", "unsupported file type .odt"),
    ("report.docx", b"PK\x03\x04", "not added, unreadable Word file"),
    ("README", b"plain words", "unsupported file type (none)"),
])
def test_unreadable_or_unsupported_files_are_refused_with_a_reason(
        tmp_path: Path, corpus: Path, name: str, data: bytes, reason: str) -> None:
    before = _names(corpus)
    with pytest.raises(UploadRejected, match=reason.replace("(", r"\(").replace(")", r"\)")) as refused:
        save_upload(_file(tmp_path, name, data), name, corpus, settings_for(corpus, tmp_path / "index"))
    assert "\n" not in str(refused.value) and safe_file_name(name) in str(refused.value)
    assert _names(corpus) == before  # nothing written, no staged leftovers


def test_an_oversized_file_is_refused_by_the_configured_limit(tmp_path: Path, corpus: Path) -> None:
    settings = settings_for(corpus, tmp_path / "index", ui={"max_upload_bytes": 1000})
    big = _file(tmp_path, "big.txt", "A long report line.\n" * 100)  # 2,000 bytes
    with pytest.raises(UploadRejected, match=r"big.txt: the file is 2,000 bytes; the upload limit is 1,000 bytes"):
        save_upload(big, "big.txt", corpus, settings)
    assert not (corpus / "big.txt").exists()
    assert save_upload(_file(tmp_path, "small.txt", "Short report.\n"), "small.txt", corpus, settings).path.exists()


def test_an_upload_holding_more_text_than_a_minute_of_indexing_is_refused(tmp_path: Path, corpus: Path) -> None:
    """The default text limit: a 700 KB report would take over a minute to embed on 2 cores."""
    settings = settings_for(corpus, tmp_path / "index")
    paragraph = "Customs officers at the port inspected containers of amber and tobacco in 2019.\n\n"
    long = _file(tmp_path, "long.txt", paragraph * (700_000 // len(paragraph)))
    with pytest.raises(UploadRejected, match=r"long.txt: its text is .*about a minute of indexing.*rag index"):
        save_upload(long, "long.txt", corpus, settings)
    assert not (corpus / "long.txt").exists() and not list(corpus.glob(".upload-*"))
    fits = _file(tmp_path, "fits.txt", paragraph * (600_000 // len(paragraph)))
    assert save_upload(fits, "fits.txt", corpus, settings).path.exists()


def test_an_existing_file_is_never_overwritten_silently(tmp_path: Path, corpus: Path) -> None:
    settings = settings_for(corpus, tmp_path / "index")
    existing = corpus / "002_50d104ffb6a67dba.txt"
    original = existing.read_bytes()
    renamed = save_upload(_file(tmp_path, "a.txt", NEW_REPORT), existing.name, corpus, settings)
    assert renamed.doc_id == "002_50d104ffb6a67dba (2).txt" and not renamed.duplicate
    assert "already in the corpus" in renamed.note and renamed.doc_id in renamed.note
    assert existing.read_bytes() == original
    again = save_upload(_file(tmp_path, "b.txt", NEW_REPORT + "\nMore."), existing.name, corpus, settings)
    assert again.doc_id == "002_50d104ffb6a67dba (3).txt"
    same = save_upload(existing, existing.name, corpus, settings)  # identical content: nothing to add
    assert same.duplicate and same.path == existing and "identical" in same.note


def test_the_bundled_sample_is_never_written_to(tmp_path: Path) -> None:
    source = _file(tmp_path, "new.txt", NEW_REPORT)
    with pytest.raises(UploadRejected, match="read-only"):
        save_upload(source, "new.txt", BUNDLED_CORPUS, Settings())
    assert not (BUNDLED_CORPUS / "new.txt").exists()


def test_uploads_go_to_a_seeded_workspace_when_the_corpus_is_the_bundled_sample(tmp_path: Path) -> None:
    settings = Settings(ui={"workspace_corpus_dir": tmp_path / "workspace"})  # index.corpus_dir: the bundled default
    workspace = writable_corpus(settings)
    assert workspace == (tmp_path / "workspace").resolve()
    bundled = sorted(p.name for p in BUNDLED_CORPUS.iterdir())
    assert sorted(p.name for p in workspace.iterdir() if p.name != SEEDED_MARKER) == bundled
    assert all(filecmp.cmp(BUNDLED_CORPUS / name, workspace / name, shallow=False) for name in bundled)
    (workspace / bundled[0]).unlink()  # a report the user removed is not brought back
    assert writable_corpus(settings) == workspace and not (workspace / bundled[0]).exists()
    assert with_writable_corpus(settings).index.corpus_dir == workspace and settings.index.corpus_dir == BUNDLED_CORPUS


def test_a_configured_corpus_takes_the_uploads_itself(tmp_path: Path, corpus: Path) -> None:
    settings = settings_for(corpus, tmp_path / "index", ui={"workspace_corpus_dir": tmp_path / "workspace"})
    assert writable_corpus(settings) == corpus.resolve()
    assert not (tmp_path / "workspace").exists()


@pytest.mark.parametrize(("host", "auth", "allow", "allowed"), [
    ("127.0.0.1", None, None, True),
    ("localhost", None, None, True),
    ("::1", None, None, True),
    ("127.0.0.2", None, None, True),
    ("0.0.0.0", None, None, False),  # every interface: anyone on the network, no password
    ("::", None, None, False),
    ("192.168.1.20", None, None, False),
    ("0.0.0.0", "reader:secret", None, True),  # behind a login
    ("0.0.0.0", None, True, True),  # --allow-uploads
    ("127.0.0.1", None, False, False),  # --no-uploads
])
def test_uploads_are_off_on_an_exposed_address_without_a_login(host: str, auth: str | None, allow: bool | None,
                                                               allowed: bool) -> None:
    assert uploads_allowed(Settings(ui={"host": host, "auth": auth, "allow_uploads": allow}).ui) is allowed


@pytest.mark.parametrize("name", ["报告" * 100 + ".txt", "𐌰" * 120 + ".md", "é" * 119 + ".txt"])
def test_a_long_non_ascii_name_is_cut_on_a_character_to_what_the_file_system_allows(
        tmp_path: Path, corpus: Path, name: str) -> None:
    """File systems count 255 bytes, not characters: 200 CJK characters are 600 bytes."""
    settings = settings_for(corpus, tmp_path / "index")
    first = save_upload(_file(tmp_path, "a.txt", NEW_REPORT), name, corpus, settings)
    second = save_upload(_file(tmp_path, "b.txt", NEW_REPORT + "\nMore."), name, corpus, settings)  # renamed " (2)"
    suffix = Path(name).suffix
    for saved in (first, second):
        assert saved.path.exists() and len(saved.doc_id.encode()) <= 255 and saved.doc_id.endswith(suffix)
    assert len(first.doc_id.encode()) <= MAX_NAME_BYTES and name.startswith(Path(first.doc_id).stem)
    assert second.doc_id == f"{Path(first.doc_id).stem} (2){suffix}"


def test_a_missing_source_or_a_folder_is_refused_in_one_line(tmp_path: Path, corpus: Path) -> None:
    settings = settings_for(corpus, tmp_path / "index")
    folder = tmp_path / "incoming" / "folder.txt"
    folder.mkdir(parents=True)
    before = _names(corpus)
    for source, reason in [(tmp_path / "gone.txt", "folder.txt: not added, the uploaded file is missing"),
                           (folder, "folder.txt: not added, it is a folder; upload a file")]:
        with pytest.raises(UploadRejected) as refused:
            save_upload(source, "folder.txt", corpus, settings)
        assert str(refused.value).startswith(reason) and "\n" not in str(refused.value)
    assert _names(corpus) == before


def test_a_link_out_of_its_folder_is_refused_unless_links_are_followed(tmp_path: Path, corpus: Path) -> None:
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("The server's private notes.\n")
    link = tmp_path / "incoming" / "notes.txt"
    link.parent.mkdir()
    link.symlink_to(secret)
    with pytest.raises(UploadRejected, match=r"^notes.txt: not added, it is a link to a file outside its folder"):
        save_upload(link, "notes.txt", corpus, settings_for(corpus, tmp_path / "index"))
    assert not (corpus / "notes.txt").exists()
    alias = tmp_path / "incoming" / "alias.txt"  # a link inside its own folder is just another name
    alias.symlink_to(_file(tmp_path, "report.txt", NEW_REPORT))
    assert save_upload(alias, "alias.txt", corpus, settings_for(corpus, tmp_path / "index")).path.exists()
    saved = save_upload(link, "notes.txt", corpus, settings_for(corpus, tmp_path / "index", index={"follow_symlinks": True}))
    assert not saved.path.is_symlink() and saved.path.read_text() == secret.read_text()
