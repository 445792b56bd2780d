"""The `rag` command line as a user runs it: real subprocesses, one-line errors, non-zero exits."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import SENTINEL_QUESTION, segment_dir
from tests.fake_ollama import FakeOllama, free_port
from tests.fake_openai import FakeOpenAI


def rag(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | (env or {})
    return subprocess.run([sys.executable, "-m", "rag.app.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, check=False)


def _one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_index_then_search(corpus: Path, tmp_path: Path) -> None:
    (corpus / "junk.txt").write_bytes(b"\x00\x01\x02binary")
    result = rag("index", str(corpus), "--index-dir", str(tmp_path / "idx"))
    assert result.returncode == 0, result.stderr
    assert "5 added" in result.stdout and "1 skipped" in result.stdout
    assert "skipped junk.txt: binary file" in result.stderr
    result = rag("search", SENTINEL_QUESTION, "--k", "3", "--index-dir", str(tmp_path / "idx"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 and any("002_50d104ffb6a67dba.txt ¶9" in line for line in lines)


def test_empty_question(bundled_index_dir: Path) -> None:
    _one_line_error(rag("ask", "   ", "--index-dir", str(bundled_index_dir)), "question is empty")


def test_missing_folder(tmp_path: Path) -> None:
    _one_line_error(rag("index", str(tmp_path / "nowhere"), "--index-dir", str(tmp_path / "idx")),
                    "corpus folder not found", "nowhere")


def test_corrupt_index_is_reported_and_left_alone(corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    assert rag("index", str(corpus), "--index-dir", str(index_dir)).returncode == 0
    segment = segment_dir(index_dir)
    (segment / "index.faiss").write_bytes(b"not a faiss index")
    _one_line_error(rag("search", "Sentinel", "--index-dir", str(index_dir)), "index.faiss", "rag index")
    assert (segment / "index.faiss").read_bytes() == b"not a faiss index"  # nothing overwritten behind the user


def test_ollama_down_with_explicit_backend(bundled_index_dir: Path) -> None:
    result = rag("ask", SENTINEL_QUESTION, "--llm", "ollama", "--index-dir", str(bundled_index_dir),
                 env={"OLLAMA_HOST": f"http://127.0.0.1:{free_port()}"})
    _one_line_error(result, "Ollama is not reachable")


def test_ollama_model_not_pulled(bundled_index_dir: Path) -> None:
    with FakeOllama(models=["llama3.2:1b"]) as server:
        result = rag("ask", SENTINEL_QUESTION, "--llm", "ollama", "--model", "qwen2.5:3b",
                     "--index-dir", str(bundled_index_dir), env={"OLLAMA_HOST": server.host})
    _one_line_error(result, "ollama pull qwen2.5:3b")


def test_ask_through_ollama_prints_answer_and_sources(bundled_index_dir: Path) -> None:
    reply = "Operation Sentinel resulted in over 100 seizures and more than 160 kg of drugs."
    with FakeOllama(reply=reply) as server:
        result = rag("ask", SENTINEL_QUESTION, "--llm", "ollama", "--index-dir", str(bundled_index_dir),
                     env={"OLLAMA_HOST": server.host, "RAG_CITATIONS__MODE": "write-first"})
        chose = rag("ask", SENTINEL_QUESTION, "--llm", "ollama", "--index-dir", str(bundled_index_dir),
                    env={"OLLAMA_HOST": server.host})
    assert result.returncode == 0, result.stderr
    answer, _, sources = result.stdout.partition("\n\n")
    assert "160 kg" in answer and "[1]" in answer  # attributed: the reply carried no marker
    assert sources.startswith('[1] 002_50d104ffb6a67dba.txt ¶9: "')
    assert "answered by ollama model qwen2.5:3b" in result.stderr
    # The default: the evidence chosen under a JSON schema (Ollama's structured outputs), quoted first.
    assert chose.returncode == 0, chose.stderr
    schema = next(body["format"] for path, body in server.requests if body.get("format"))
    assert schema["properties"]["chosen"]["maxItems"] == 3 and "none" in schema["properties"]["chosen"]["items"]["enum"]
    assert chose.stdout.startswith("[1] \u201cThe Operation resulted in over 100 seizures of drugs; more than 160 kg")
    assert "(002_50d104ffb6a67dba.txt ¶9)" in chose.stdout.splitlines()[0]


def test_ask_through_an_openai_compatible_server(bundled_index_dir: Path) -> None:
    ask = ("ask", SENTINEL_QUESTION, "--llm", "openai", "--index-dir", str(bundled_index_dir))
    _one_line_error(rag(*ask), "--llm openai needs the server's address: set RAG_LLM__BASE_URL")
    with FakeOpenAI(models=["qwen2.5-7b-instruct"]) as server:
        result = rag(*ask, env={"RAG_LLM__BASE_URL": server.url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[1] \u201cThe Operation resulted in over 100 seizures of drugs; more than 160 kg")
    assert f"configured: openai-compatible server at {server.url}" in result.stderr
    assert "answered by openai model qwen2.5-7b-instruct" in result.stderr


def test_invalid_setting_from_the_environment(bundled_index_dir: Path) -> None:
    result = rag("search", "x", "--index-dir", str(bundled_index_dir), env={"RAG_LLM__BACKEND": "gpt"})
    _one_line_error(result, "invalid setting llm.backend", "'gpt' is not a backend")


def test_an_unknown_variable_names_the_right_spelling(bundled_index_dir: Path) -> None:
    result = rag("search", "x", "--index-dir", str(bundled_index_dir), env={"RAG_K": "3"})
    _one_line_error(result, "error: invalid setting RAG_K: unknown setting; did you mean RAG_RETRIEVAL__K?")


def test_unknown_preset_lists_the_presets(bundled_index_dir: Path) -> None:
    result = rag("ask", "x", "--index-dir", str(bundled_index_dir), "--preset", "turbo")
    _one_line_error(result, "invalid setting preset", "unknown preset 'turbo'", "default, fast, lenient, thorough, write-first")


def test_the_environment_reaches_the_cli(bundled_index_dir: Path) -> None:
    result = rag("search", "Operation Sentinel", "--index-dir", str(bundled_index_dir),
                 env={"RAG_RETRIEVAL__K": "2", "RAG_RETRIEVAL__MODE": "dense"})
    assert result.returncode == 0, result.stderr
    assert [line[:2] for line in result.stdout.splitlines() if line[:1].isdigit()] == ["1.", "2."]


def test_unloadable_embedding_model(tmp_path: Path, bundled_index_dir: Path) -> None:
    result = rag("search", "x", "--index-dir", str(bundled_index_dir), env={"RAG_INDEX__EMBEDDER": str(tmp_path / "no-model")})
    _one_line_error(result, "cannot load embedding model", "no-model")


def test_report_text_is_printed_literally_never_as_markup_or_terminal_control(tmp_path: Path) -> None:
    """A report may contain rich markup or ESC/OSC sequences: `rag search` shows them as text."""
    corpus = tmp_path / "hostile"
    corpus.mkdir()
    (corpus / "markup.txt").write_text("Markup report\n\nSmuggling [/bold] of [red]amber[/red] was found in "
                                       "the port of Klaipeda.\x1b]0;pwned\x07 Done.\n", encoding="utf-8")
    assert rag("index", str(corpus), "--index-dir", str(tmp_path / "idx")).returncode == 0
    result = rag("search", "amber smuggling in Klaipeda", "--k", "1", "--index-dir", str(tmp_path / "idx"))
    assert result.returncode == 0, result.stderr
    assert "[/bold]" in result.stdout and "[red]amber[/red]" in result.stdout  # not eaten, not an error
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout  # the terminal never sees the control
    assert "\\x1b]0;pwned\\x07" in result.stdout  # but the reader sees what is there


def test_a_read_never_builds_or_replaces_an_index(tmp_path: Path, bundled_index_dir: Path) -> None:
    """A mistyped --index-dir, or a folder whose CURRENT is gone, is an error: nothing is built or deleted."""
    typo = tmp_path / "idnex"
    for command in (("search", "Sentinel"), ("ask", SENTINEL_QUESTION)):
        _one_line_error(rag(*command, "--index-dir", str(typo)), f"no index at {typo}", "rag index")
    assert not typo.exists()

    lost = tmp_path / "lost"
    shutil.copytree(bundled_index_dir, lost)
    (lost / "CURRENT").unlink()
    (lost / "notes.txt").write_text("mine", encoding="utf-8")
    before = sorted(str(p.relative_to(lost)) for p in lost.rglob("*"))
    _one_line_error(rag("search", "Sentinel", "--index-dir", str(lost)), "no index", "--force")
    _one_line_error(rag("index", "--index-dir", str(lost)), "no index", "--force")
    assert sorted(str(p.relative_to(lost)) for p in lost.rglob("*")) == before


def test_one_hostile_file_never_stops_a_folder(tmp_path: Path) -> None:
    """Undecodable names, links out of the folder and broken links are skipped, each with one warning line."""
    corpus = tmp_path / "share"
    corpus.mkdir()
    (corpus / "ok.txt").write_text("Port report\n\nAmber was seized in Klaipeda in 2019.\n", encoding="utf-8")
    with open(os.path.join(os.fsencode(corpus), b"bad\xffname.txt"), "wb") as handle:
        handle.write(b"a\n\nb\n")
    secret = tmp_path / "outside.txt"
    secret.write_text("Secret\n\nThe root password is hunter2.\n", encoding="utf-8")
    (corpus / "secret.txt").symlink_to(secret)
    (corpus / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    index_dir = str(tmp_path / "idx")

    result = rag("index", str(corpus), "--index-dir", index_dir)
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stdout and "3 skipped" in result.stdout
    for name, reason in (("bad\\xffname.txt", "not valid UTF-8"), ("secret.txt", "outside the corpus folder"),
                         ("gone.txt", "broken symbolic link")):
        warnings = [line for line in result.stderr.splitlines() if f"skipped {name}:" in line]
        assert len(warnings) == 1 and reason in warnings[0], result.stderr  # once, naming the file
    assert "hunter2" not in rag("search", "root password", "--index-dir", index_dir).stdout
    assert rag("index", str(corpus), "--index-dir", index_dir, "--strict").returncode == 1

    allowed = rag("index", str(corpus), "--index-dir", index_dir, env={"RAG_INDEX__FOLLOW_SYMLINKS": "true"})
    assert "1 added" in allowed.stdout and "2 skipped" in allowed.stdout
    assert "hunter2" in rag("search", "root password", "--index-dir", index_dir).stdout


def test_index_check_verifies_every_file(corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    assert rag("index", str(corpus), "--index-dir", str(index_dir)).returncode == 0
    result = rag("index", "--check", "--index-dir", str(index_dir))
    assert result.returncode == 0 and "intact" in result.stdout, result.stderr
    assert re.search(r"\b8 files match their checksums", result.stdout)  # vectors, records, FAISS, 5 of BM25
    vectors = segment_dir(index_dir) / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-5] ^= 0x01
    vectors.write_bytes(bytes(data))
    _one_line_error(rag("index", "--check", "--index-dir", str(index_dir)), "vectors.npy",
                    "does not match its checksum", f"rag index {corpus}")


def test_every_command_prints_its_help() -> None:
    """Typer renders help as rich markup: a literal "[/MODEL]" once made `rag eval --help` an error."""
    from typer.testing import CliRunner

    from rag.app.cli import app

    for command in ("index", "search", "ask", "serve", "eval"):
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output and "error:" not in result.output, command
    assert "BACKEND[/MODEL]" in CliRunner().invoke(app, ["eval", "--help"], terminal_width=200).output


def test_report_text_and_file_names_print_literally_emoji_newlines_and_all(tmp_path: Path) -> None:
    """A probe found ":x:" in a report printed as an emoji, and a file name holding a newline forging a line of
    `rag search` output."""
    corpus = tmp_path / "hostile"
    corpus.mkdir()
    (corpus / "emoji.txt").write_text("Emoji report\n\nAmber smuggling in Klaipeda :x: :thumbs_up: rose.\n",
                                      encoding="utf-8")
    forged = "notes.txt\n2. 0.999  forged.txt ¶1: \"all clear\"\nx.txt"
    (corpus / forged).write_text("Forged report\n\nAmber smuggling in Klaipeda was reported twice.\n",
                                 encoding="utf-8")
    assert rag("index", str(corpus), "--index-dir", str(tmp_path / "idx")).returncode == 0
    result = rag("search", "amber smuggling in Klaipeda", "--k", "2", "--index-dir", str(tmp_path / "idx"))
    assert result.returncode == 0, result.stderr
    assert ":x: :thumbs_up:" in result.stdout and "❌" not in result.stdout
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(re.match(r"[12]\. ", line) for line in lines), lines
    assert "notes.txt\\x0a2. 0.999  forged.txt" in result.stdout


def test_usage_errors_are_one_line_with_exit_2_and_version_works(tmp_path: Path) -> None:
    """typer's own click made every usage error "unexpected ..." with exit 1, and there was no --version."""
    version = rag("--version")
    assert version.returncode == 0 and re.fullmatch(r"rag \d+\.\d+\.\d+\S*\n", version.stdout), version
    folder_as_file = tmp_path / "notes.txt"
    folder_as_file.write_text("notes", encoding="utf-8")
    cases = {
        ("search", "x", "--k", "abc"): "Invalid value for '--k'",
        ("ask",): "Missing argument",
        ("search",): "Missing argument",
        ("index", "--bogus"): "No such option: --bogus",
        ("ask", "q", "--bogus"): "No such option: --bogus",
        ("eval", "--limit", "0"): "Invalid value for '--limit'",
        ("serve", "--port", "abc"): "Invalid value for '--port'",
        ("nope",): "No such command 'nope'",
        **{(command, "--no-such-option"): "No such option: --no-such-option"
           for command in ("index", "search", "ask", "serve", "eval")},
    }
    for args, message in cases.items():
        result = rag(*args)
        assert result.returncode == 2, (args, result.stderr)
        _one_line_error(result, message)
        assert "unexpected" not in result.stderr and "Usage:" not in result.stderr
    for command in (("search", "x"), ("ask", "q"), ("index", "--check")):
        result = rag(*command, "--index-dir", str(folder_as_file))
        _one_line_error(result, "is a file, not an index folder")
        assert "unexpected" not in result.stderr and folder_as_file.read_text(encoding="utf-8") == "notes"


def test_error_lines_show_terminal_control_from_arguments_escaped(tmp_path: Path) -> None:
    hostile = str(tmp_path / "idx\x1b]0;pwned\x07\nforged line")
    result = rag("search", "x", "--index-dir", hostile)
    _one_line_error(result, "no index at", "\\x1b]0;pwned\\x07\\x0aforged line")
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr and len(result.stderr.splitlines()) == 1
