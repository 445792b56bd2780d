"""py3langid's model kept decompressed in the model cache (rag.query.langid_cache), on a tiny model file written with
py3langid's own writer: the copy is made once, reused, made again when the model changes, and never needed (an
unwritable cache, a damaged copy or one that differs from the wheel's: the file itself is read). The real model,
cached against uncached: tests/integration/test_cold_start_caches.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from py3langid.modelio import save_model

from rag.pipeline import Pipeline
from rag.query import langid_cache, language
from rag.query.langid_cache import FOLDER, META_FILE, from_model_file, load_identifier
from rag.settings import Settings
from tests.fakes import FakeEmbedder, FakeLLM

TEXTS = ("aaa", "bab", "hello", "", "a")


def _tiny_model(path: Path, weight: float = -1.0) -> Path:
    """Three languages, one feature (a byte "a" seen): a two-state DFA, state 1 after an "a"."""
    nextmove = [0] * 512
    nextmove[ord("a")] = 1
    save_model(path, ([weight, -2.0, -0.5], [-0.5, -0.7, -0.6], ["en", "es", "pcm"], nextmove, [0, 1], [-1, 0]))
    return path


def _results(identifier: Any) -> list[Any]:
    return [(identifier.classify(t), identifier.rank(t)) for t in TEXTS]


@pytest.fixture()
def builds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    built: list[Path] = []
    write = langid_cache._write_copy

    def counting(source: Path, out: Path, without: tuple[str, ...], fingerprint: dict[str, Any]) -> None:
        built.append(source)
        write(source, out, without, fingerprint)

    monkeypatch.setattr(langid_cache, "_write_copy", counting)
    return built


def test_the_copy_is_made_once_and_gives_the_same_results(tmp_path: Path, builds: list[Path]) -> None:
    model, cache = _tiny_model(tmp_path / "model.npz.xz"), tmp_path / "cache"
    expected = _results(from_model_file(model))
    assert _results(load_identifier(cache, model)) == expected
    assert _results(load_identifier(cache, model)) == expected
    assert len(builds) == 1
    assert sorted(p.name for p in (cache / FOLDER).iterdir()) == sorted(
        [META_FILE, *(f"{name}.npy" for name in langid_cache.ARRAYS)])
    assert not [p for p in cache.iterdir() if p.name.endswith((".tmp", ".old"))]


def test_the_copy_leaves_out_languages_as_set_languages_does(tmp_path: Path, builds: list[Path]) -> None:
    model, cache = _tiny_model(tmp_path / "model.npz.xz"), tmp_path / "cache"
    expected = _results(from_model_file(model, without=("pcm",)))
    assert expected != _results(from_model_file(model))
    for _ in range(2):
        identifier = load_identifier(cache, model, without=("pcm",))
        assert _results(identifier) == expected and identifier.nb_classes == ["en", "es"]
    assert _results(load_identifier(cache, model)) == _results(from_model_file(model))  # another copy
    assert len(builds) == 2


def test_a_changed_model_makes_a_new_copy(tmp_path: Path, builds: list[Path]) -> None:
    model, cache = _tiny_model(tmp_path / "model.npz.xz"), tmp_path / "cache"
    load_identifier(cache, model)
    _tiny_model(model, weight=-3.0)  # an upgraded py3langid's model
    os.utime(model, ns=(model.stat().st_atime_ns, model.stat().st_mtime_ns + 10**9))
    assert _results(load_identifier(cache, model)) == _results(from_model_file(model))
    assert len(builds) == 2


def test_an_unwritable_cache_reads_the_model_file(tmp_path: Path, builds: list[Path]) -> None:
    model = _tiny_model(tmp_path / "model.npz.xz")
    (tmp_path / "file").write_text("not a folder")
    assert _results(load_identifier(tmp_path / "file" / "cache", model)) == _results(from_model_file(model))
    assert builds == []


def test_a_damaged_copy_is_not_used_and_is_made_again(tmp_path: Path, builds: list[Path]) -> None:
    model, cache = _tiny_model(tmp_path / "model.npz.xz"), tmp_path / "cache"
    load_identifier(cache, model)
    (cache / FOLDER / "ptc.npy").write_bytes(b"\x93NUMPY damaged")
    assert _results(load_identifier(cache, model)) == _results(from_model_file(model))  # the file itself
    assert _results(load_identifier(cache, model)) == _results(from_model_file(model))  # a new copy
    assert len(builds) == 2


def test_a_copy_unlike_the_wheels_is_recorded_and_not_used(tmp_path: Path, builds: list[Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """E.g. a py3langid whose loader converts the arrays otherwise: the file is read, and no copy made again."""
    monkeypatch.setattr(langid_cache, "same_model", lambda first, second: False)
    model, cache = _tiny_model(tmp_path / "model.npz.xz"), tmp_path / "cache"
    for _ in range(2):
        assert _results(load_identifier(cache, model)) == _results(from_model_file(model))
    assert len(builds) == 1


def test_no_cache_dir_reads_the_model_file(tmp_path: Path, builds: list[Path]) -> None:
    model = _tiny_model(tmp_path / "model.npz.xz")
    assert _results(load_identifier(None, model)) == _results(from_model_file(model))
    assert builds == [] and list(tmp_path.iterdir()) == [model]


def test_the_pipeline_keeps_the_model_in_its_model_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(language, "_model_cache", [])
    settings = Settings(llm={"model_cache_dir": tmp_path / "models"}, index={"index_dir": tmp_path / "index"})
    Pipeline(settings, embedder=FakeEmbedder(), llm=FakeLLM()).rewriter  # noqa: B018 - built, as a question does
    assert language._model_cache == [tmp_path / "models"]
