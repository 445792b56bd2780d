"""Managing the reports of an index: list them, delete (or exclude) one, read one again.

Deleting a report removes its file only where the web UI put it there (an upload, unchanged since:
``rag.app.upload_ledger``). Any other report (the user's own folder, a watched folder, the bundled sample's
copy) is *excluded* instead: its file is never touched, and the exclusion is kept with the index version so
that a later ``rag index`` does not bring it back (``rag.index_changes.include_command`` does).
Each operation is one index update under the index lock, ending in a new atomic version: run it now with
``pipeline.reindex(change=...)``, or queue it with ``BackgroundIndexer.submit(change)`` (the UI).

Example::

    from rag.app.reports import delete_report, list_reports, reread_report
    for report in list_reports(pipeline.index.manifest):
        print(report.name, report.paragraphs, report.pages, report.uploaded)
    removal, index_report = delete_report(pipeline, "harbour.md")   # an upload: its file is deleted
    print(removal.describe())                                       # "harbour.md: deleted (its uploaded file ...)"
    pipeline.reindex(change=reread_report(pipeline.index.manifest, "notes.md"))   # embedded again
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rag.app.upload_ledger import forget_upload, uploaded_files
from rag.documents.readers import file_sha256
from rag.errors import RagError, literal, one_line
from rag.index_changes import IndexChange, Reports, check_report, include_command
from rag.indexing import IndexReport
from rag.pipeline import Pipeline
from rag.store.manifest import Manifest


@dataclass(frozen=True)
class ReportInfo:
    """One report of the index, as the UI's table and ``rag reports`` list it."""

    name: str  # the citation key: its path inside the corpus folder
    title: str
    date: str | None  # ISO yyyy-mm-dd, where one was found
    paragraphs: int
    pages: int  # 0: not a paged document (or indexed before pages were counted)
    uploaded: bool  # added through the page and unchanged since: deleting it removes its file


@dataclass(frozen=True)
class Removal:
    """What deleting one report does: remove its (uploaded) file, or exclude it and leave the file."""

    name: str
    folder: Path
    deletes_file: bool
    index_dir: Path | None = None  # where the index is, if known: the command that undoes an exclusion names it

    def describe(self) -> str:
        shown = literal(self.name, lines=False)
        if self.deletes_file:
            return f"{shown}: deleted (its uploaded file is removed from {self.folder})"
        return (f"{shown}: excluded from the index (its file in {self.folder} is left as it is; "
                f"`{literal(self.bring_back(), lines=False)}` brings it back)")

    def bring_back(self) -> str:
        """The command that undoes an exclusion of this report."""
        return include_command(self.folder, self.name, self.index_dir)


def corpus_of(manifest: Manifest) -> Path:
    """The folder the index was built from: where its reports' files are."""
    return Path(manifest.corpus_root)


def list_reports(manifest: Manifest) -> list[ReportInfo]:
    """The reports in the index, by name; uploaded ones are known without reading any file."""
    uploads = uploaded_files(corpus_of(manifest))
    return [ReportInfo(doc_id, doc.title, doc.date, doc.paragraphs, doc.pages, uploads.get(doc_id) == doc.sha256)
            for doc_id, doc in sorted(manifest.documents.items())]


def excluded_reports(manifest: Manifest) -> list[str]:
    """The reports kept out of the index although their files are (or were) in its folder."""
    return sorted(manifest.excluded)


def _known(manifest: Manifest, name: str, index_dir: Path | None) -> None:
    """``name`` is a report of the index, else ``rag.index_changes``' one line (which says how to bring an excluded
    report back)."""
    check_report(name, manifest.documents, manifest.excluded, Reports(corpus_of(manifest), index_dir))


def removal(manifest: Manifest, name: str, index_dir: Path | None = None) -> Removal:
    """What deleting ``name`` would do (nothing is changed); one ``UnknownReport`` line for an unknown name.

    Its file is deleted only when the page wrote it and it still holds exactly those bytes (hashed now):
    an upload the user has edited since is theirs, and is excluded instead. ``index_dir``: where the index
    is, for the command that brings an excluded report back.
    """
    _known(manifest, name, index_dir)
    if len(manifest.documents) == 1:
        raise RagError(f"{literal(name, lines=False)!r} is the only report in the index; add another one first")
    folder = corpus_of(manifest)
    recorded = uploaded_files(folder).get(name)
    path = folder / name
    try:
        ours = recorded is not None and (not path.exists() or file_sha256(path) == recorded)
    except OSError:
        ours = False
    return Removal(name, folder, ours, index_dir)


def carry_out(planned: Removal) -> IndexChange:
    """Do the file part of ``planned`` (delete an upload's file) and return the index change that follows.

    A deleted file needs no change (the update finds it gone); an exclusion is the change.
    """
    if not planned.deletes_file:
        return IndexChange.of(exclude=[planned.name])
    try:
        (planned.folder / planned.name).unlink(missing_ok=True)
    except OSError as exc:
        raise RagError(f"{literal(planned.name, lines=False)}: its file could not be deleted "
                       f"({exc.strerror or one_line(exc)})") from None
    forget_upload(planned.folder, planned.name)
    return IndexChange()


def delete_report(pipeline: Pipeline, name: str) -> tuple[Removal, IndexReport]:
    """Delete (an upload) or exclude (any other report) ``name`` now, and answer from the new version."""
    manifest = pipeline.index.manifest
    planned = removal(manifest, name, pipeline.settings.resolved_index_dir())
    report = pipeline.reindex(corpus_of(manifest), change=carry_out(planned))
    return planned, report


def reread_report(manifest: Manifest, name: str, index_dir: Path | None = None) -> IndexChange:
    """The change that reads ``name`` again and re-embeds it, even though its file is unchanged."""
    _known(manifest, name, index_dir)
    return IndexChange.of(reread=[name])
