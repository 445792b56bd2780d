"""Adding a user's file to the corpus: a safe name, a supported and readable file, no silent overwrite.

Where uploads go: into the corpus folder, so that ``rag index`` and the UI see the
same files. That is the configured corpus; failing that (the bundled default), the
folder the existing index was built from (``rag index ~/reports`` then ``rag serve``
serves ``~/reports``). The bundled sample (``data/reports``) is never written to: when
it would be the corpus, uploads go to a writable workspace copy of it
(``settings.ui.workspace_corpus_dir``, seeded once with the bundled reports).

Example::

    from rag.app.uploads import save_upload, writable_corpus
    corpus = writable_corpus(settings)                  # ~/.local/share/rag/corpus for the bundled sample
    saved = save_upload(Path("/tmp/gradio/abc/notes.md"), "notes.md", corpus, settings)
    print(saved.doc_id, saved.note)                     # "notes.md", "" (or why it was renamed)
    pipeline.reindex(corpus, change=upload_change([saved], corpus, settings))   # embeds only the new file
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import shutil
import socket
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from rag.app.upload_ledger import record_upload
from rag.documents.corpus import OutsideCorpus, read_inside
from rag.documents.limits import ReadBudget, ReadLimits, TextTooLarge, UnreadableFile
from rag.documents.readers import extract, file_sha256, list_files
from rag.errors import RagError, UploadRejected
from rag.index_changes import IndexChange, previous_exclusions
from rag.settings import BUNDLED_CORPUS, Settings, UISettings, is_bundled
from rag.store.index import SegmentedIndex

MAX_NAME_CHARS = 120  # file-name length kept from an upload
MAX_NAME_BYTES = 200  # file systems allow 255 bytes, not characters: room for a " (2)" rename and the staging name
MAX_SUFFIX_CHARS = 16  # an extension longer than this is no supported type anyway
SEEDED_MARKER = ".seeded-from-bundled-reports"  # hidden: list_files skips it


@dataclass(frozen=True)
class SavedUpload:
    doc_id: str  # the citation key: the file name inside the corpus folder
    path: Path
    note: str = ""  # what happened besides a plain save: a rename, or an identical file already there
    duplicate: bool = False  # an identical file was already in the corpus; nothing was written


def is_loopback(host: str) -> bool:
    """Whether a server bound to ``host`` answers this machine only (a name counts if all its addresses do)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def uploads_allowed(ui: UISettings) -> bool:
    """Whether the web UI may add files: ``allow_uploads`` if set, else only on loopback or behind a login.

    A server anyone on the network can reach without a password must not let them write into the corpus.
    """
    if ui.allow_uploads is not None:
        return ui.allow_uploads
    return bool(ui.auth) or is_loopback(ui.host)


def _bundled_sha256(settings: Settings) -> dict[str, str]:
    return {p.relative_to(BUNDLED_CORPUS).as_posix(): file_sha256(p)
            for p in list_files(BUNDLED_CORPUS, settings.index.extensions)}


def _indexed_corpus(settings: Settings) -> Path | None:
    """The folder the existing index was built from, if it is still there and is not the sample.

    An index of another copy of the sample (another checkout's ``data/reports``) counts as
    the sample, so uploads never land in a project folder.
    """
    directory = settings.resolved_index_dir()
    if not SegmentedIndex.exists(directory):
        return None
    try:
        manifest = SegmentedIndex.read_manifest(directory)  # only the manifest: no vectors or records
    except RagError:
        return None
    root = Path(manifest.corpus_root)
    indexed = {doc_id: document.sha256 for doc_id, document in manifest.documents.items()}
    if not root.is_dir() or is_bundled(root) or indexed == _bundled_sha256(settings):
        return None
    return root


def writable_corpus(settings: Settings) -> Path:
    """The folder uploads are saved to: the configured corpus, else the indexed one, else the workspace copy."""
    configured = settings.resolved_corpus_dir()
    if not is_bundled(configured):
        return configured
    indexed = _indexed_corpus(settings)
    if indexed is not None:
        return indexed
    workspace = settings.ui.workspace_corpus_dir.expanduser().resolve()
    marker = workspace / SEEDED_MARKER
    if not marker.exists():  # seed once: a report the user later deletes stays deleted
        workspace.mkdir(parents=True, exist_ok=True)
        for source in list_files(BUNDLED_CORPUS, settings.index.extensions):
            target = workspace / source.relative_to(BUNDLED_CORPUS)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        marker.write_text(f"seeded from {BUNDLED_CORPUS}\n", encoding="utf-8")
    return workspace


def with_writable_corpus(settings: Settings) -> Settings:
    """``settings`` whose corpus is the folder uploads go to (a copy; the original is unchanged)."""
    index = settings.index.model_copy(update={"corpus_dir": writable_corpus(settings)})
    return settings.model_copy(update={"index": index})


def safe_file_name(name: str) -> str:
    """A plain file name from whatever a browser sent: no folders, no '..', not hidden, no odd characters.

    ``"../../etc/passwd.txt"`` -> ``"passwd.txt"``; ``"C:\\\\x\\\\Q3 report.md"`` -> ``"Q3 report.md"``.
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", name or ""))[-1]
    base = "".join(c if c.isalnum() or c in "-_.() " else "_" for c in base)
    base = re.sub(r"_{2,}", "_", re.sub(r"\s+", " ", base)).rstrip(" ._-")
    stem, dot, suffix = base.rpartition(".")  # before stripping the stem: "😀.md" keeps its ".md"
    if not dot:
        stem, suffix = base, ""
    stem = stem.strip(" ._-") or "upload"
    suffix = f".{suffix[:MAX_SUFFIX_CHARS]}" if suffix else ""
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    stem = stem[: MAX_NAME_CHARS - len(suffix)].encode("utf-8")[:room].decode("utf-8", "ignore")  # whole characters
    return (stem.rstrip(" ._-") or "upload") + suffix


def human_size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def _free_name(corpus_dir: Path, name: str) -> str:
    stem, suffix = Path(name).stem, Path(name).suffix
    number = 2
    while (corpus_dir / f"{stem} ({number}){suffix}").exists():
        number += 1
    return f"{stem} ({number}){suffix}"


def _regular_file(source: Path, shown: str, settings: Settings) -> Path:
    """The file behind ``source``: not missing, not a folder or device, not a link out of its folder.

    A link could make an upload copy any file the server can read (``/etc/passwd`` placed in
    an upload folder as ``notes.txt``); ``settings.index.follow_symlinks`` allows such links.
    """
    target = source.resolve()
    outside = not target.is_relative_to(source.parent.resolve())
    if source.is_symlink() and not settings.index.follow_symlinks and outside:
        raise UploadRejected(f"{shown}: not added, it is a link to a file outside its folder "
                             "(RAG_INDEX__FOLLOW_SYMLINKS=true allows such links)")
    if not target.exists():
        raise UploadRejected(f"{shown}: not added, the uploaded file is missing (upload it again)")
    if not target.is_file():
        kind = "a folder" if target.is_dir() else "not a regular file"
        raise UploadRejected(f"{shown}: not added, it is {kind}; upload a file")
    return target


def save_upload(source: Path, name: str, corpus_dir: Path, settings: Settings) -> SavedUpload:
    """Validate ``source`` (uploaded as ``name``) and copy it into ``corpus_dir``; raises ``UploadRejected``.

    Checks, in order: a supported extension, a regular file (not missing, not a folder, not a
    link out of its folder), not empty, not above ``settings.ui.max_upload_bytes``, and text the
    indexer can read (the same readers as indexing: binary, non-UTF-8 and broken PDFs are
    refused). An existing file is never overwritten: the upload gets a free name instead,
    and the note says so. Any other failure to read or write is one ``UploadRejected`` line too.
    """
    shown = safe_file_name(name)
    if is_bundled(corpus_dir):
        raise UploadRejected("the bundled sample reports are read-only; upload into a workspace copy "
                             "(see rag.app.uploads.writable_corpus)")
    suffix = Path(shown).suffix.lower()
    if suffix not in settings.index.extensions:
        kinds = ", ".join(sorted({ext for ext in settings.index.extensions if ext != ".htm"}))
        raise UploadRejected(f"{shown}: unsupported file type {suffix or '(none)'}; upload {kinds}")
    try:
        return _save(_regular_file(source, shown, settings), shown, corpus_dir, settings)
    except OSError as exc:  # vanished meanwhile, no permission, disk full
        raise UploadRejected(f"{shown}: not added, it could not be copied ({exc.strerror or type(exc).__name__})"
                             ) from None


def upload_change(saved: list[SavedUpload], corpus_dir: Path, settings: Settings) -> IndexChange:
    """The change that indexing ``saved`` needs besides the folder: a name the index excludes (a report excluded,
    then removed from the folder, uploaded again; or an identical copy of one) is brought back, since the user
    has just added it. Without it the file would be saved and never indexed."""
    excluded = previous_exclusions(settings.resolved_index_dir(), str(corpus_dir.expanduser().resolve()))
    return IndexChange.of(include=[upload.doc_id for upload in saved if upload.doc_id in excluded])


def _save(source: Path, shown: str, corpus_dir: Path, settings: Settings) -> SavedUpload:
    suffix = Path(shown).suffix.lower()
    size = source.stat().st_size
    if size == 0:
        raise UploadRejected(f"{shown}: the file is empty")
    if size > settings.ui.max_upload_bytes:
        raise UploadRejected(f"{shown}: the file is {human_size(size)}; the upload limit is "
                             f"{human_size(settings.ui.max_upload_bytes)} (RAG_UI__MAX_UPLOAD_BYTES)")
    try:  # one descriptor, checked: a link swapped in after the checks above is refused, never copied
        raw = read_inside(source.parent, source, settings.index.follow_symlinks, settings.ui.max_upload_bytes)
    except OutsideCorpus as exc:
        raise UploadRejected(f"{shown}: not added, {exc.strerror}") from None
    if len(raw) > settings.ui.max_upload_bytes or not raw:
        raise UploadRejected(f"{shown}: not added, the file changed while it was read (upload it again)")
    try:  # reading stops as soon as the text passes the limit (TextTooLarge), not after a full parse
        text = extract(raw, suffix, shown, ReadBudget(ReadLimits.upload(settings))).text  # warnings name the upload
        too_large = len(text.encode("utf-8")) > settings.ui.max_upload_text_bytes
    except TextTooLarge:
        too_large = True
    except UnreadableFile as exc:
        raise UploadRejected(f"{shown}: not added, {exc}") from None
    if too_large:
        raise UploadRejected(f"{shown}: its text is more than {human_size(settings.ui.max_upload_text_bytes)}; an "
                             f"upload may hold {human_size(settings.ui.max_upload_text_bytes)} of text, about a minute "
                             "of indexing (RAG_UI__MAX_UPLOAD_TEXT_BYTES); index larger files with `rag index`")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    staged = corpus_dir / f".upload-{uuid.uuid4().hex}{suffix}"  # hidden until it passes: never indexed half-written
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        with os.fdopen(os.open(staged, flags, 0o644), "wb") as handle:
            handle.write(raw)
        digest = hashlib.sha256(raw).hexdigest()
        target, note = corpus_dir / shown, ""
        while True:
            try:
                os.link(staged, target)  # fails if the name is taken, even by a concurrent upload
                record_upload(corpus_dir, target.name, digest)  # the page wrote it: deleting may remove it
                return SavedUpload(target.name, target, note)
            except FileExistsError:
                if file_sha256(target) == digest:
                    return SavedUpload(target.name, target, f"{target.name} is already in the corpus "
                                                            "(identical file)", True)
                target = corpus_dir / _free_name(corpus_dir, shown)
                note = f"a different {shown} is already in the corpus, so this one was saved as {target.name}"
    finally:
        staged.unlink(missing_ok=True)
