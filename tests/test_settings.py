"""One settings object in sections: defaults, preset files, environment and explicit values, in that order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

import rag.settings
from embeddings import make_embedder
from rag.llm.base import TextStream, Usage
from rag.llm.factory import make_llm
from rag.settings import BUNDLED_CORPUS, LEGACY_NAMES, PROJECT_ROOT, SECTIONS, LLMSettings, Settings
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


def _user_preset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, content: object) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = tmp_path / "config" / "rag" / "presets" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


def _one_line_message(error: pytest.ExceptionInfo[ValidationError]) -> str:
    message = error.value.errors()[0]["msg"]
    assert "\n" not in message
    return message


def test_defaults_point_at_the_bundled_reports() -> None:
    settings = Settings()
    assert settings.index.corpus_dir == BUNDLED_CORPUS and settings.llm.backend == "auto"
    assert settings.retrieval.k == 5 and settings.llm.ollama_host == "http://127.0.0.1:11434"


def test_flat_keyword_arguments_map_onto_the_sections() -> None:
    settings = Settings(k=3, llm="embedded", ollama_model="llama3.1:8b", retrieval="dense", llama_extra_buffers=True,
                        citation_min_support=0.2, abstain_check_answer_type=False, translate_questions=False,
                        ui_port=8000, window_sentences=0, abstain_window_sentences=3)
    assert (settings.retrieval.k, settings.retrieval.mode) == (3, "dense")
    assert (settings.llm.backend, settings.llm.ollama_model, settings.llm.extra_buffers) == (
        "embedded", "llama3.1:8b", True)
    assert settings.citations.min_support == 0.2 and settings.abstention.check_answer_type is False
    assert settings.questions.translate is False and settings.ui.port == 8000
    assert (settings.index.window_sentences, settings.abstention.window_sentences) == (0, 3)


def test_the_legacy_table_covers_every_field_once() -> None:
    targets = list(LEGACY_NAMES.values())
    assert len(targets) == len(set(targets))
    assert set(targets) == {(section, field) for section, model in SECTIONS.items() for field in model.model_fields}


def test_every_legacy_name_is_documented() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    for old, (section, field) in LEGACY_NAMES.items():
        assert old in (rag.settings.__doc__ or ""), old
        assert f"`{old}`" in readme and f"`{section}.{field}`" in readme, old


def test_flat_environment_variables_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_K", "8")
    monkeypatch.setenv("RAG_LLM", "embedded")
    monkeypatch.setenv("RAG_RETRIEVAL", "dense")
    monkeypatch.setenv("RAG_INDEX_DIR", "/tmp/elsewhere")
    monkeypatch.setenv("RAG_ABSTAIN_MIN_COVERAGE", "0.25")
    monkeypatch.setenv("RAG_UI_EXAMPLES", '["Who?"]')
    settings = Settings()
    assert (settings.retrieval.k, settings.llm.backend, settings.retrieval.mode) == (8, "embedded", "dense")
    assert settings.index.index_dir == Path("/tmp/elsewhere") and settings.abstention.min_coverage == 0.25
    assert settings.ui.examples == ("Who?",)


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_RETRIEVAL__K", "8")
    monkeypatch.setenv("RAG_LLM__BACKEND", "embedded")
    monkeypatch.setenv("RAG_INDEX__EXTENSIONS", '[".txt"]')
    settings = Settings()
    assert (settings.retrieval.k, settings.llm.backend, settings.index.extensions) == (8, "embedded", (".txt",))
    monkeypatch.setenv("RAG_K", "7")
    assert Settings().retrieval.k == 8  # a new-style variable wins over the old name
    monkeypatch.setenv("RAG_LLM", '{"ollama_model": "m"}')  # a whole section as JSON, not the old RAG_LLM=embedded
    assert (Settings().llm.ollama_model, Settings().llm.backend) == ("m", "embedded")


def test_ollama_host_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "http://10.1.2.3:11434")
    assert Settings().llm.ollama_host == "http://10.1.2.3:11434"
    monkeypatch.setenv("RAG_OLLAMA_HOST", "http://10.9.9.9:11434")  # the project's own variable wins
    assert Settings().llm.ollama_host == "http://10.9.9.9:11434"
    assert Settings(ollama_host="http://h:1").llm.ollama_host == "http://h:1"


def test_priority_is_arguments_then_environment_then_preset_then_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().retrieval.k == 5
    assert Settings(preset="fast").retrieval.k == 3
    assert Settings(preset="fast", k=4).retrieval.k == 4
    monkeypatch.setenv("RAG_K", "7")
    assert Settings(preset="fast").retrieval.k == 7
    assert Settings(preset="fast", retrieval={"k": 4}).retrieval.k == 4
    monkeypatch.setenv("RAG_PRESET", "thorough")
    monkeypatch.setenv("RAG_LLM", "embedded")
    settings = Settings()
    assert (settings.llm.max_answer_tokens, settings.llm.n_ctx, settings.llm.backend) == (768, 8192, "embedded")
    assert Settings.from_name("fast").llm.max_answer_tokens == 256  # the argument wins over RAG_PRESET


def test_a_section_object_sets_only_its_own_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_LLM", "embedded")
    settings = Settings(preset="thorough", llm=LLMSettings(ollama_model="m"))
    assert (settings.llm.ollama_model, settings.llm.backend, settings.llm.n_ctx) == ("m", "embedded", 8192)


def test_bundled_presets_hold_the_documented_values() -> None:
    lenient = Settings.from_name("lenient").abstention
    assert (lenient.min_window_coverage, lenient.min_source_coverage, lenient.check_answer_type,
            lenient.max_refusal_probability) == (0.0, 0.0, False, 1.0)
    assert Settings.from_name("default") == Settings()
    assert Settings.from_name("fast", k=2).retrieval.k == 2


def test_a_user_preset_overrides_or_adds_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _user_preset(monkeypatch, tmp_path, "fast", {"retrieval": {"k": 2}})
    _user_preset(monkeypatch, tmp_path, "mine", {"description": "mine", "citations": {"attribution": "lexical"}})
    fast = Settings.from_name("fast")
    assert fast.retrieval.k == 2 and fast.llm.max_answer_tokens == 512  # the whole file replaces the bundled one
    assert Settings(preset="mine").citations.attribution == "lexical"
    monkeypatch.setenv("RAG_PRESET", "mine")
    assert Settings().citations.attribution == "lexical"


def test_an_unknown_preset_is_one_line_listing_the_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _user_preset(monkeypatch, tmp_path, "mine", {})
    with pytest.raises(ValidationError) as error:
        Settings(preset="turbo")
    assert _one_line_message(error) == "unknown preset 'turbo'; choose one of: default, fast, lenient, mine, thorough"
    with pytest.raises(ValidationError, match="unknown preset 'turbo'"):
        Settings.from_name("turbo")
    monkeypatch.setenv("RAG_PRESET", "turbo")
    with pytest.raises(ValidationError, match="unknown preset 'turbo'"):
        Settings()


@pytest.mark.parametrize(("content", "expected"), [
    ({"retrieval": {"kk": 3}}, "unknown key 'retrieval.kk'"),
    ({"k": 3}, "unknown key 'k' (did you mean 'retrieval.k'?)"),
    ({"retrieval": {"k": 0}}, "retrieval.k: Input should be greater than or equal to 1"),
    ({"retrieval": 3}, "'retrieval' must be an object of settings"),
])
def test_a_bad_preset_file_names_the_file_and_the_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      content: object, expected: str) -> None:
    path = _user_preset(monkeypatch, tmp_path, "broken", content)
    with pytest.raises(ValidationError) as error:
        Settings(preset="broken")
    assert _one_line_message(error) == f"preset file {path}: {expected}"


def test_a_preset_file_that_is_not_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = _user_preset(monkeypatch, tmp_path, "broken", {})
    path.write_text('{"retrieval": {"k": 3,}}', encoding="utf-8")
    with pytest.raises(ValidationError) as error:
        Settings(preset="broken")
    assert _one_line_message(error).startswith(f"preset file {path} is not valid JSON")


def test_misspelt_keys_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(retrieval={"kk": 3})
    assert error.value.errors()[0]["type"] == "extra_forbidden" and error.value.errors()[0]["loc"] == ("retrieval", "kk")
    with pytest.raises(ValidationError, match="no_such_setting"):
        Settings(no_such_setting=1)
    monkeypatch.setenv("RAG_RETRIEVAL__KK", "3")
    with pytest.raises(ValidationError) as error:
        Settings()
    assert error.value.errors()[0]["loc"] == ("retrieval", "kk")


def test_invalid_values_are_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(k=0)
    with pytest.raises(ValidationError, match="'gpt' is not a backend"):
        Settings(llm="gpt")


def test_a_class_path_backend_receives_its_section() -> None:
    settings = Settings(llm=f"{__name__}:EchoLLM", ollama_model="echo-1", k=2)
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
        Settings(llm=path)
    assert expected in _one_line_message(error) and error.value.errors()[0]["loc"] == ("llm", "backend")
    with pytest.raises(ValidationError) as error:
        Settings(embedder=path)
    assert expected in _one_line_message(error) and error.value.errors()[0]["loc"] == ("index", "embedder")


def test_a_class_path_embedder_gets_the_batch_size_if_it_takes_one() -> None:
    settings = Settings(embedder=f"{__name__}:TinyEmbedder", embed_batch_size=7)
    embedder = settings.make_embedder()
    assert isinstance(embedder, TinyEmbedder) and embedder.batch_size == 7
    bare = make_embedder(f"{__name__}:BareEmbedder", 7)
    assert isinstance(bare, BareEmbedder) and bare.batch_size == 99


def test_questions_are_validated_before_anything_loads(tmp_path: Path) -> None:
    from rag.errors import InvalidQuestion
    from rag.pipeline import Pipeline

    pipeline = Pipeline(Settings(index_dir=tmp_path / "never-built", max_question_chars=50))
    with pytest.raises(InvalidQuestion, match="the limit is 50"):
        pipeline.ask("why " * 20)
    with pytest.raises(InvalidQuestion, match="empty"):
        pipeline.stream(" \n\t ")
    assert pipeline._index is None and pipeline._llm is None  # nothing was loaded or built
    assert not (tmp_path / "never-built").exists()
