"""A question limited to some reports (``rag.types.Scope``): reading names and dates, resolving them to the
indexed reports (one line when none matches), and the ways in: ``rag ask`` / ``rag search`` flags, ``ask()``
and the UI's boxes. The limited search itself: tests/unit/test_scoped_search.py and tests/integration."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from rag.errors import InvalidScope, NoMatchingReport
from rag.store.manifest import IndexedDocument
from rag.store.scope import name_matches, resolve_scope
from rag.types import Scope
from ui.filters import ReportFilter, report_label


def _documents(*specs: tuple[str, str | None]) -> dict[str, IndexedDocument]:
    return {doc_id: IndexedDocument(doc_id, f"Title of {doc_id}", day, "0" * 64, 3) for doc_id, day in specs}


DOCUMENTS = _documents(("000_a.txt", "2009-02-02"), ("001_b.txt", "2021-10-25"), ("002_c.txt", "2009-10-27"),
                       ("sub/Harbour [draft].md", None), ("scans/2019 report.PDF", "2019-05-01"))


def test_a_scope_reads_names_and_dates_and_refuses_a_bad_date_in_one_line() -> None:
    scope = Scope.of("002*", since="2009-01-01", until=date(2010, 1, 1))
    assert scope == Scope(("002*",), date(2009, 1, 1), date(2010, 1, 1)) and not scope.everything
    assert scope.describe() == "reports matching '002*' dated 2009-01-01 to 2010-01-01"
    assert Scope.of(["a", " ", ""], "", None) == Scope(("a",)) and Scope.of().everything
    with pytest.raises(InvalidScope, match=r"^since '2009-13-01' is not a date: use YYYY-MM-DD"):
        Scope.of(since="2009-13-01")
    with pytest.raises(InvalidScope, match=r"^since 2010-01-01 is after until 2009-01-01"):
        Scope.of(since="2010-01-01", until="2009-01-01")
    assert scope.holds_date("2009-01-01") and scope.holds_date("2010-01-01")  # inclusive
    assert not scope.holds_date("2008-12-31") and not scope.holds_date(None) and not scope.holds_date("soon")
    assert Scope(("x",)).holds_date(None)  # no date range: an undated report is in


def test_a_scope_built_directly_reads_a_plain_string_as_one_name_and_dates_from_text() -> None:
    loose: Any = Scope  # as a script without type checks calls it
    scope = loose(docs="002*", since="2009-01-01", until=datetime(2010, 1, 1, 12))
    assert scope == Scope(("002*",), date(2009, 1, 1), date(2010, 1, 1)) and scope.holds_date("2009-06-01")
    assert resolve_scope(scope, DOCUMENTS) == {"002_c.txt"}  # not every report, as '*' alone would allow
    assert loose(docs=["a", " "], ids="sub/x.md") == Scope(("a",), ids=("sub/x.md",))
    with pytest.raises(InvalidScope, match=r"^until 'soon' is not a date: use YYYY-MM-DD"):
        loose(until="soon")
    assert Scope.or_none(None, "", None) is None and Scope.or_none((), None, None, ids=[" "]) is None
    assert Scope.or_none(["002*"], datetime(2009, 1, 1), None) == Scope(("002*",), date(2009, 1, 1))
    assert Scope.or_none(ids=["a.md"]) == Scope(ids=("a.md",))


@pytest.mark.parametrize(("scope", "words"), [
    (Scope(), "all reports"), (Scope.of(since="2009-01-01"), "reports dated from 2009-01-01"),
    (Scope.of(until="2009-01-01"), "reports dated until 2009-01-01"),
    (Scope.of(["a*", "b*"], ids=["c.md"]), "reports named 'c.md' or matching 'a*' or 'b*'"),
    (Scope.of(ids=["a", "b", "c", "d", "e"]), "reports named 'a', 'b', 'c' or 2 more"),
    (Scope.of(["x", "y", "z"]), "reports matching 'x', 'y' or 'z'"),
])
def test_a_scope_describes_itself_in_plain_words_not_flags(scope: Scope, words: str) -> None:
    assert scope.describe() == words


def test_a_report_picked_by_id_lets_in_only_itself_where_a_pattern_matches_more() -> None:
    documents = _documents(("a.md", None), ("2019/a.md", None), ("r[1].md", None), ("r1.md", None))
    assert resolve_scope(Scope(ids=("a.md",)), documents) == {"a.md"}
    assert resolve_scope(Scope(ids=("r[1].md",)), documents) == {"r[1].md"}
    with pytest.raises(NoMatchingReport, match=r"^no reports named 'A.md': the index holds 4 reports \(2019/a.md"):
        resolve_scope(Scope(ids=("A.md",)), documents)
    assert resolve_scope(Scope(ids=("r1.md",), docs=("2019/*",)), documents) == {"r1.md", "2019/a.md"}
    assert resolve_scope(Scope(("a.md",)), documents) == {"a.md", "2019/a.md"}  # a typed pattern: file names too
    assert resolve_scope(Scope(("r[1].md",)), documents) == {"r[1].md", "r1.md"}  # and a glob


@pytest.mark.parametrize(("pattern", "doc_id", "matches"), [
    ("002*", "002_c.txt", True), ("*.TXT", "002_c.txt", True), ("002_C.txt", "002_c.txt", True),
    ("harbour*", "sub/Harbour [draft].md", True),  # by its file name
    ("SUB/*", "sub/Harbour [draft].md", True),  # by its path
    ("sub/Harbour [draft].md", "sub/Harbour [draft].md", True),  # exactly, although [..] is a glob class
    ("*.pdf", "scans/2019 report.PDF", True), ("00", "002_c.txt", False), ("report", "scans/2019 report.PDF", False),
])
def test_names_match_a_file_name_or_path_as_case_insensitive_globs(pattern: str, doc_id: str, matches: bool) -> None:
    assert name_matches(pattern, doc_id) is matches


def test_a_scope_resolves_to_the_reports_it_names_within_its_dates() -> None:
    assert resolve_scope(None, DOCUMENTS) is None and resolve_scope(Scope(), DOCUMENTS) is None
    assert resolve_scope(Scope.of(["00*", "*.md"]), DOCUMENTS) == {"000_a.txt", "001_b.txt", "002_c.txt",
                                                                    "sub/Harbour [draft].md"}
    assert resolve_scope(Scope.of("00*", since="2009-10-27"), DOCUMENTS) == {"001_b.txt", "002_c.txt"}
    # a date range leaves out the report without a date, whatever its name
    assert resolve_scope(Scope.of(until="2019-12-31"), DOCUMENTS) == {"000_a.txt", "002_c.txt", "scans/2019 report.PDF"}
    assert resolve_scope(Scope.of("*.md", since="2000-01-01"), _documents(*[(f"{n}.md", "2001-01-01")
                                                                             for n in range(3)])) == {"0.md", "1.md", "2.md"}


@pytest.mark.parametrize(("scope", "message"), [
    (Scope.of("x*"), ("no reports matching 'x*': the index holds 5 reports (000_a.txt, 001_b.txt, 002_c.txt and "
                     "2 more); names match a report's file name or path, as globs such as '002*' or '*.pdf'")),
    (Scope.of("00*", since="2030-01-01"), ("no reports matching '00*' dated from 2030-01-01: 3 reports match the "
                                          "names, dated 2009-02-02 to 2021-10-25")),
    (Scope.of(until="1990-01-01"), ("no reports dated until 1990-01-01: the index holds 5 reports, dated "
                                   "2009-02-02 to 2021-10-25 (1 without a date, outside any date range)")),
    (Scope.of("*.md", since="2000-01-01"), ("no reports matching '*.md' dated from 2000-01-01: 1 report matches "
                                           "the names, none of them dated")),
    (Scope.of(ids=["002_c.txt"], since="2030-01-01"), ("no reports named '002_c.txt' dated from 2030-01-01: 1 report "
                                                       "matches the names, dated 2009-10-27")),
])
def test_a_scope_that_matches_no_report_is_one_line_saying_what_the_index_holds(scope: Scope, message: str) -> None:
    with pytest.raises(NoMatchingReport) as error:
        resolve_scope(scope, DOCUMENTS)
    assert str(error.value) == f"{message} (`rag reports` lists them)"
    with pytest.raises(NoMatchingReport, match="the index holds no reports"):
        resolve_scope(scope, {})
    with pytest.raises(NoMatchingReport, match=r": 1 report matches the names, dated 2009-10-27 \(`rag reports`"):
        resolve_scope(Scope.of("002*", until="2001-01-01"), DOCUMENTS)


class _Recorder:
    """Stands in for ``rag.app.cli.Pipeline``: records the scope of each question."""

    scopes: ClassVar[list[Any]] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def retrieve(self, question: str, scope: Scope | None = None) -> list:
        _Recorder.scopes.append(scope)
        return []

    def ask(self, question: str, scope: Scope | None = None) -> Any:
        _Recorder.scopes.append(scope)
        from rag.types import Answer

        return Answer(question, "text", False)


@pytest.mark.parametrize("command", [["search", "seizures"], ["ask", "--json", "What was seized?"]])
def test_rag_ask_and_search_take_doc_since_and_until(monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    from rag.app import cli

    monkeypatch.setattr(cli, "Pipeline", _Recorder)
    _Recorder.scopes = []
    flags = ["--doc", "002*", "--doc", "*.pdf", "--since", "2009-01-01", "--until", "2010-12-31"]
    for given in (flags, []):
        result = CliRunner().invoke(cli.app, [command[0], *given, *command[1:]])
        assert result.exit_code == 0, result.output
    assert _Recorder.scopes == [Scope(("002*", "*.pdf"), date(2009, 1, 1), date(2010, 12, 31)), None]


def test_a_bad_date_flag_is_a_one_line_usage_error(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from rag.app import cli

    monkeypatch.setattr(cli, "Pipeline", _Recorder)
    for argv, expected in [(["search", "x", "--since", "2009-13-01"], "'2009-13-01' does not match the format"),
                           (["search", "x", "--since", "2010-01-01", "--until", "2009-01-01"], "since 2010-01-01 is after")]:
        monkeypatch.setattr("sys.argv", ["rag", *argv])
        with pytest.raises(SystemExit) as exit_code:
            cli.main()
        error = capsys.readouterr().err
        assert exit_code.value.code in (1, 2) and error.startswith("error: ") and expected in error
        assert error.count("\n") == 1


def test_ask_takes_docs_and_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.api

    asked: list[Any] = []

    class Pipeline:
        def ask(self, question: str, scope: Scope | None = None) -> str:
            asked.append(scope)
            return "answer"

    monkeypatch.setattr(rag.api, "default_pipeline", Pipeline)
    assert rag.api.ask("q", docs="002*", since="2009-01-01") == "answer"
    rag.api.ask("q", docs=["a", "b"], until=date(2010, 1, 1))
    rag.api.ask("q")
    assert asked == [Scope(("002*",), date(2009, 1, 1)), Scope(("a", "b"), None, date(2010, 1, 1)), Scope()]
    with pytest.raises(InvalidScope):
        rag.api.ask("q", since="yesterday")


def test_the_ui_reads_its_boxes_as_a_scope_picked_reports_exactly_and_labels_reports_by_title() -> None:
    pipeline: Any = SimpleNamespace(index=SimpleNamespace(manifest=SimpleNamespace(documents=DOCUMENTS)))
    limits = ReportFilter(pipeline)
    assert limits.scope(None, "", "") is None and limits.scope([], " ", None) is None
    assert limits.scope(["002_c.txt"], " 2009-01-01 ", "") == Scope(since=date(2009, 1, 1), ids=("002_c.txt",))
    # a picked report is its doc_id exactly (its [..] no glob); a typed pattern stays a glob
    assert limits.scope(["sub/Harbour [draft].md", "00*"], "", "") == Scope(("00*",), ids=("sub/Harbour [draft].md",))
    with pytest.raises(InvalidScope, match="until '31/12/2009' is not a date"):
        limits.scope([], "", "31/12/2009")
    document = IndexedDocument("sub/a.txt", "A very long title " * 6, "2009-10-27", "0" * 64, 3)
    label = report_label(document)
    assert label.endswith("… (sub/a.txt, 2009-10-27)") and len(label) < 100
    assert report_label(IndexedDocument("b.md", "", None, "0" * 64, 1)) == "b.md (b.md)"
