"""One settings object in sections: defaults, preset files, environment and explicit values, in that order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from embeddings import make_embedder
from rag.llm.base import Selection, TextStream, Usage
from rag.llm.factory import make_llm
from rag.settings import BUNDLED_CORPUS, PROJECT_ROOT, SECTIONS, LLMSettings, Settings, env_name, setting_names
from rag.types import Message


class EchoLLM:
    """A backend named by class path: it receives the ``llm`` section and nothing else."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.started = False

    @property
    def backend(self) -> str:
        return "echo"

    @property
    def model(self) -> str:
        return self.settings.ollama_model

    def start(self) -> None:
        self.started = True

    def check(self) -> str:
        return "ok"

    def stream(self, messages: list[Message], max_tokens: int | None = None) -> TextStream[Usage]:
        def generate():  # type: ignore[no-untyped-def]
            yield messages[-1]["content"]
            return Usage()
        return TextStream(generate())

    def choose(self, messages: list[Message], options: Sequence[str], max_choices: int) -> Selection:
        return Selection(list(options[:1]), Usage())

    def prefer(self, messages: list[Message], first: str, second: str) -> float | None:
        return None


class TinyEmbedder:
    """An embedder named by class path; it takes the batch size."""

    def __init__(self, batch_size: int = 1) -> None:
        self.batch_size = batch_size

    name, dim, max_tokens = "tiny", 2, 64

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return np.ones((len(texts), 2), np.float32) / np.sqrt(2)


class BareEmbedder(TinyEmbedder):
    """No batch size in its constructor: built with no arguments."""

    def __init__(self) -> None:
        super().__init__(batch_size=99)


def _one_line_message(error: pytest.ExceptionInfo[ValidationError]) -> str:
    message = error.value.errors()[0]["msg"]
    assert "\n" not in message
    return message


def test_defaults_point_at_the_bundled_reports() -> None:
    settings = Settings()
    assert settings.index.corpus_dir == BUNDLED_CORPUS and settings.llm.backend == "auto"
    assert settings.retrieval.k == 5 and settings.llm.ollama_host == "http://127.0.0.1:11434"


def test_sectioned_keyword_arguments() -> None:
    settings = Settings(retrieval={"k": 3, "mode": "dense"}, llm={"backend": "embedded", "extra_buffers": True},
                        citations={"min_support": 0.2}, questions={"translate": False}, ui={"port": 8000},
                        index={"window_sentences": 0}, abstention={"window_sentences": 3})
    assert (settings.retrieval.k, settings.retrieval.mode) == (3, "dense")
    assert (settings.llm.backend, settings.llm.extra_buffers) == ("embedded", True)
    assert settings.citations.min_support == 0.2 and settings.questions.translate is False and settings.ui.port == 8000
    assert (settings.index.window_sentences, settings.abstention.window_sentences) == (0, 3)


def test_every_setting_has_one_variable_and_is_documented() -> None:
    """The configuration reference (docs/configuration.md) is generated from the models by a mkdocs hook."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("settings_reference",
                                                  PROJECT_ROOT / "docs" / "hooks" / "settings_reference.py")
    assert spec is not None and spec.loader is not None
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    page = reference.settings_markdown()
    names = setting_names()
    assert len(names) == len(set(names)) == 1 + sum(len(model.model_fields) for model in SECTIONS.values())
    assert env_name("retrieval.k") == "RAG_RETRIEVAL__K" and env_name("preset") == "RAG_PRESET"
    for name in names:
        assert name in page and env_name(name) in page, name


@pytest.mark.parametrize(("arguments", "loc", "message"), [
    ({"k": 3}, ("k",), "unknown setting; did you mean retrieval.k?"),
    ({"ollama_model": "m"}, ("ollama_model",), "unknown setting; did you mean llm.ollama_model?"),
    ({"abstain_min_coverage": 0.2}, ("abstain_min_coverage",), "unknown setting; did you mean abstention.min_coverage?"),
    ({"ui_port": 1}, ("ui_port",), "unknown setting; did you mean ui.port?"),
    ({"window_sentences": 1}, ("window_sentences",),
     "unknown setting; did you mean index.window_sentences or abstention.window_sentences?"),
    ({"retrieval": {"kk": 3}}, ("retrieval", "kk"), "unknown setting; did you mean retrieval.k?"),
    ({"llm": "embedded"}, ("llm",), "a section: give a dict of its settings, e.g. llm={'backend': ...}"),
    ({"no_such_setting": 1}, ("no_such_setting",),
     "unknown setting (the sections are index, retrieval, llm, citations, abstention, questions, prompts, ui)"),
])
def test_an_unknown_argument_is_one_line_naming_the_right_spelling(arguments: dict[str, object],
                                                                  loc: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(**arguments)
    assert error.value.errors()[0]["loc"] == loc and _one_line_message(error) == message


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("RAG_K", "8", "unknown setting; did you mean RAG_RETRIEVAL__K?"),
    ("RAG_OLLAMA_MODEL", "m", "unknown setting; did you mean RAG_LLM__OLLAMA_MODEL?"),
    ("RAG_INDEX_DIR", "/tmp/x", "unknown setting; did you mean RAG_INDEX__INDEX_DIR?"),
    ("RAG_TRANSLATE_QUESTIONS", "0", "unknown setting; did you mean RAG_QUESTIONS__TRANSLATE?"),
    ("RAG_RETRIEVAL__KK", "3", "unknown setting; did you mean RAG_RETRIEVAL__K?"),
    ("rag_ui_port", "1", "unknown setting; did you mean RAG_UI__PORT?"),
    ("RAG_LLM", "embedded",
     "not a JSON object of the llm section; one of its settings is RAG_LLM__<FIELD>, e.g. RAG_LLM__BACKEND"),
])
def test_an_unknown_variable_is_one_line_naming_the_right_spelling(monkeypatch: pytest.MonkeyPatch, variable: str,
                                                                  value: str, message: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert error.value.errors()[0]["loc"] == (variable.upper(),) and _one_line_message(error) == message


def test_rag_debug_is_not_a_setting_but_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_DEBUG", "1")  # read by the CLI itself
    assert Settings().retrieval.k == 5


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_RETRIEVAL__K", "8")
    monkeypatch.setenv("RAG_LLM__BACKEND", "embedded")
    monkeypatch.setenv("RAG_INDEX__EXTENSIONS", '[".txt"]')
    monkeypatch.setenv("RAG_UI__EXAMPLES", '["Who?"]')
    settings = Settings()
    assert (settings.retrieval.k, settings.llm.backend, settings.index.extensions) == (8, "embedded", (".txt",))
    assert settings.ui.examples == ("Who?",)
    monkeypatch.setenv("RAG_LLM", '{"ollama_model": "m"}')  # a whole section as JSON
    assert (Settings().llm.ollama_model, Settings().llm.backend) == ("m", "embedded")


def test_ollama_host_defaults_to_ollamas_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().llm.ollama_host == "http://127.0.0.1:11434"
    monkeypatch.setenv("OLLAMA_HOST", "http://10.1.2.3:11434")
    assert Settings().llm.ollama_host == "http://10.1.2.3:11434"
    monkeypatch.setenv("RAG_LLM__OLLAMA_HOST", "http://10.9.9.9:11434")  # the setting itself wins
    assert Settings().llm.ollama_host == "http://10.9.9.9:11434"
    assert Settings(llm={"ollama_host": "http://h:1"}).llm.ollama_host == "http://h:1"


def test_priority_is_arguments_then_environment_then_preset_then_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().retrieval.k == 5
    assert Settings(preset="fast").retrieval.k == 3
    assert Settings(preset="fast", retrieval={"k": 4}).retrieval.k == 4
    monkeypatch.setenv("RAG_RETRIEVAL__K", "7")
    assert Settings(preset="fast").retrieval.k == 7
    assert Settings(preset="fast", retrieval={"k": 4}).retrieval.k == 4
    monkeypatch.setenv("RAG_PRESET", "thorough")
    monkeypatch.setenv("RAG_LLM__BACKEND", "embedded")
    settings = Settings()
    assert (settings.llm.max_answer_tokens, settings.llm.n_ctx, settings.llm.backend) == (768, 8192, "embedded")
    assert Settings.from_name("fast").llm.max_answer_tokens == 256  # the argument wins over RAG_PRESET


def test_a_section_object_sets_only_its_own_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_LLM__BACKEND", "embedded")
    settings = Settings(preset="thorough", llm=LLMSettings(ollama_model="m"))
    assert (settings.llm.ollama_model, settings.llm.backend, settings.llm.n_ctx) == ("m", "embedded", 8192)


def test_invalid_values_are_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(retrieval={"k": 0})
    with pytest.raises(ValidationError, match="'gpt' is not a backend"):
        Settings(llm={"backend": "gpt"})


def test_a_class_path_backend_receives_its_section() -> None:
    settings = Settings(llm={"backend": f"{__name__}:EchoLLM", "ollama_model": "echo-1"}, retrieval={"k": 2})
    choice = make_llm(settings.llm, progress=False)
    assert isinstance(choice.llm, EchoLLM) and choice.llm.started and choice.llm.settings is settings.llm
    assert choice.llm.model == "echo-1" and choice.reason == f"configured: {__name__}:EchoLLM"
    assert list(choice.llm.stream([{"role": "user", "content": "hi"}])) == ["hi"]


@pytest.mark.parametrize(("path", "expected"), [
    ("tests.no_such_module:EchoLLM", "cannot import module 'tests.no_such_module'"),
    (f"{__name__}:NoSuchClass", f"module '{__name__}' has no class 'NoSuchClass'"),
    (f"{__name__}:BUNDLED_CORPUS", "is not a class"),
])
def test_a_class_path_that_does_not_resolve_is_one_line(path: str, expected: str) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(llm={"backend": path})
    assert expected in _one_line_message(error) and error.value.errors()[0]["loc"] == ("llm", "backend")
    with pytest.raises(ValidationError) as error:
        Settings(index={"embedder": path})
    assert expected in _one_line_message(error) and error.value.errors()[0]["loc"] == ("index", "embedder")


def test_a_class_path_embedder_gets_the_batch_size_if_it_takes_one() -> None:
    settings = Settings(index={"embedder": f"{__name__}:TinyEmbedder", "embed_batch_size": 7})
    embedder = settings.make_embedder()
    assert isinstance(embedder, TinyEmbedder) and embedder.batch_size == 7
    bare = make_embedder(f"{__name__}:BareEmbedder", 7)
    assert isinstance(bare, BareEmbedder) and bare.batch_size == 99


def test_questions_are_validated_before_anything_loads(tmp_path: Path) -> None:
    from rag.errors import InvalidQuestion
    from rag.pipeline import Pipeline

    pipeline = Pipeline(Settings(index={"index_dir": tmp_path / "never-built"}, retrieval={"max_question_chars": 50}))
    with pytest.raises(InvalidQuestion, match="the limit is 50"):
        pipeline.ask("why " * 20)
    with pytest.raises(InvalidQuestion, match="empty"):
        pipeline.stream(" \n\t ")
    assert pipeline.resources._index is None and pipeline.resources._llm is None  # nothing was loaded or built
    assert not (tmp_path / "never-built").exists()
