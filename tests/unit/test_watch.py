"""Following a folder and the commands that manage reports, over the fakes: which changes count, what each batch
prints, Ctrl-C ends it cleanly, `rag serve --watch` starts the watcher, and `rag index --exclude/--include` and
`rag reports`. A real watcher process: tests/integration/test_reports.py."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rag.app import watch
from rag.index_changes import IndexChange
from rag.indexing import IndexReport
from rag.pipeline import Pipeline
from rag.settings import BUNDLED_CORPUS, IndexSettings, Settings
from tests.conftest import SENTINEL, settings_for
from tests.fakes import FakeEmbedder, FakeLLM
from tests.unit.test_uploads import NEW_REPORT


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "reports"
    shutil.copytree(BUNDLED_CORPUS, target)
    return target


def test_only_reports_and_folders_count_never_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    relevant = watch._relevant(tmp_path, IndexSettings().extensions)
    for path, counts in [("a.md", True), ("sub/b.PDF", True), ("sub", True), ("gone-folder", True), ("gone.xlsx", False),
                         ("notes.xlsx", False), (".rag-uploads.json", False), (".upload-1a2b.md", False),
                         ("sub/.a.md.swp", False), (".git/x.md", False)]:
        if path == "notes.xlsx":
            (tmp_path / path).write_text("x")
        assert relevant(None, str(tmp_path / path)) is counts, path
    assert not relevant(None, "/elsewhere/a.md")


def test_a_removed_folder_with_a_dot_in_its_name_counts(tmp_path: Path) -> None:
    relevant = watch._relevant(tmp_path, IndexSettings().extensions, lambda: ["2019.q1/a.md", "b.md"])
    assert relevant(None, str(tmp_path / "2019.q1"))  # gone, and reports were indexed under it
    assert not relevant(None, str(tmp_path / "2019.q2")) and not relevant(None, str(tmp_path / "gone.xlsx"))
    assert not relevant(None, str(tmp_path / ".2019.q1"))  # hidden


def test_each_batch_says_what_changed_by_name() -> None:
    report = IndexReport(Path("/i"), added=["a.md"], removed=["b.pdf", "c.txt"])
    assert watch.changes_line(report) == "added a.md; removed b.pdf, c.txt"
    assert watch.changes_line(IndexReport(Path("/i"))) == "no report changed"


def _batches(steps: list[Any]) -> Any:
    """A stand-in for the watcher: runs each step (a file change) and yields a batch; then Ctrl-C."""
    def batches(folder: Path, settings: IndexSettings, stop: Any = None, indexed: Any = None) -> Iterator[set[str]]:
        for step in steps:
            step()
            yield {"changed"}
        raise KeyboardInterrupt
    return batches


def test_follow_indexes_each_batch_and_stops_cleanly_on_ctrl_c(corpus: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = Pipeline(settings_for(corpus, tmp_path / "index"), embedder=FakeEmbedder())
    new = corpus / "harbour.md"
    monkeypatch.setattr(watch, "batches", _batches([lambda: new.write_text(NEW_REPORT), new.unlink,
                                                    lambda: [p.unlink() for p in corpus.iterdir()]]))
    said: list[str] = []
    complained: list[str] = []
    watch.follow(pipeline, corpus, said.append, complain=complained.append)  # returns: Ctrl-C is the normal way out
    assert said[0].startswith("5 added") and said[1].startswith(f"watching {corpus}")
    assert said[2].startswith("added harbour.md: ") and said[3].startswith("removed harbour.md: ")
    assert len(complained) == 1 and complained[0].startswith("error: no readable documents")  # watching went on
    assert said[4] == "stopped watching; the index is at its last complete version"
    assert "harbour.md" not in pipeline.index.manifest.documents


def _cli(monkeypatch: pytest.MonkeyPatch) -> Any:
    from rag.app import cli

    monkeypatch.setattr(cli, "_logging", lambda verbose: None)
    monkeypatch.setattr(cli, "Pipeline", lambda settings, progress=False: Pipeline(settings, embedder=FakeEmbedder()))
    return cli


def test_rag_index_watch_exits_0_on_ctrl_c(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = _cli(monkeypatch)
    monkeypatch.setattr(watch, "batches", _batches([lambda: (corpus / "harbour.md").write_text(NEW_REPORT)]))
    result = CliRunner().invoke(cli.app, ["index", str(corpus), "--index-dir", str(tmp_path / "i"), "--watch"])
    assert result.exit_code == 0, result.output
    assert "added harbour.md" in result.output and "stopped watching" in result.output


def test_rag_index_watch_honours_force_and_compact_and_refuses_strict(corpus: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    cli, calls = _cli(monkeypatch), list[dict[str, Any]]()
    made = cli.Pipeline

    def spying(settings: Settings, progress: bool = False) -> Pipeline:
        pipeline = made(settings, progress)
        reindex = pipeline.reindex
        def recorded(*args: Any, **kwargs: Any) -> IndexReport:
            calls.append(kwargs)
            return reindex(*args, **kwargs)

        monkeypatch.setattr(pipeline, "reindex", recorded)
        return pipeline

    monkeypatch.setattr(cli, "Pipeline", spying)
    monkeypatch.setattr(watch, "batches", _batches([lambda: [path.unlink() for path in corpus.iterdir()]]))
    (tmp_path / "i").mkdir()
    (tmp_path / "i" / "stray.txt").write_text("not an index")  # a folder with files: only --force builds there
    args = ["index", str(corpus), "--index-dir", str(tmp_path / "i"), "--watch"]
    result = CliRunner().invoke(cli.app, [*args, "--force", "--compact"])
    assert result.exit_code == 0 and calls[0] == {"force": True, "compact": True, "change": IndexChange()}
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no readable documents" in errors[0] and "error" not in result.stdout  # stderr
    for clash, named in ((["--strict"], "--strict"), (["--check"], "--check")):
        monkeypatch.setattr("sys.argv", ["rag", *args, *clash])
        with pytest.raises(SystemExit) as exited:
            cli.main()
        line = capsys.readouterr().err
        assert exited.value.code == 2 and line.startswith("error: ") and named in line and line.count("\n") == 1


def test_rag_index_excludes_and_includes_and_rag_reports_lists(corpus: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cli, runner, index = _cli(monkeypatch), CliRunner(), ["--index-dir", str(tmp_path / "i")]
    data = (corpus / SENTINEL[0]).read_bytes()
    excluded = runner.invoke(cli.app, ["index", str(corpus), *index, "--exclude", SENTINEL[0]])
    assert excluded.exit_code == 0, excluded.output
    assert "1 excluded" in excluded.output and f"excluded (files left in place): {SENTINEL[0]}" in excluded.output
    listed = runner.invoke(cli.app, ["reports", *index])
    assert listed.exit_code == 0 and len(listed.output.strip().splitlines()) == 5
    assert (f"{SENTINEL[0]}  (excluded: `rag index {corpus} --index-dir {tmp_path / 'i'} --include {SENTINEL[0]}` "
            "brings it back)") in listed.output
    assert "¶" in listed.output and (corpus / SENTINEL[0]).read_bytes() == data
    assert "1 excluded" in runner.invoke(cli.app, ["index", str(corpus), *index]).output  # it stays out
    back = runner.invoke(cli.app, ["index", str(corpus), *index, "--include", SENTINEL[0]])
    assert back.exit_code == 0 and back.output.startswith("1 added") and "excluded" not in back.output
    with pytest.raises(SystemExit) as exited:  # through main(): one line and exit 1
        monkeypatch.setattr("sys.argv", ["rag", "index", str(corpus), *index, "--include", "nope.txt"])
        cli.main()
    assert exited.value.code == 1


def test_serve_watch_follows_the_served_folder_with_the_pages_indexer(corpus: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.serve

    started: list[tuple[Path, Any, Any]] = []
    monkeypatch.setattr(ui.serve, "check_address", lambda host, port: None)
    monkeypatch.setattr(ui.serve, "Pipeline", lambda settings, progress=False: Pipeline(
        settings, embedder=FakeEmbedder(), llm=FakeLLM()))
    monkeypatch.setattr(ui.serve, "launch", lambda demo, settings, block=True: "http://x")
    monkeypatch.setattr(ui.serve, "start_watcher", lambda folder, settings, submit, indexed: started.append(
        (folder, submit, indexed)))
    settings = settings_for(corpus, tmp_path / "i", ui={"watch": True, "workspace_corpus_dir": tmp_path / "w"})
    ui.serve.serve(settings, block=False)
    [(folder, submit, indexed)] = started
    assert folder == corpus.resolve() and callable(submit) and SENTINEL[0] in indexed()  # tells gone folders
    ui.serve.serve(settings_for(corpus, tmp_path / "i"), block=False)
    assert len(started) == 1  # off unless asked


def test_serve_watch_flag_reaches_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.serve
    from rag.app.cli import app

    served: list[Settings] = []
    monkeypatch.setattr(ui.serve, "serve", served.append)
    assert CliRunner().invoke(app, ["serve", "--watch"]).exit_code == 0
    assert CliRunner().invoke(app, ["serve"]).exit_code == 0
    assert served[0].ui.watch is True and served[1].ui.watch is False
