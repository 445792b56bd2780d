"""What a cold start reads from the model cache instead of computing, with the real models: py3langid's model
decompressed (rag.query.langid_cache) and the embedder compiled by OpenVINO (embeddings.openvino_cache) give the
same results as without them. The cache logic over fakes: tests/unit/test_langid_cache.py, test_openvino_cache.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embeddings import PACKAGED_MODEL, Embedder
from embeddings.onnx_export import RECIPES, export_dir
from embeddings.onnx_runtime import OpenVinoRunner, WordPieces, run_batch
from rag.query.langid_cache import FOLDER, META_FILE, from_model_file, load_identifier, wheel_model

QUESTIONS = [
    "What did Operation Sentinel seize?", "Operation Sentinel seizures", "Joint Communiqué on Sentinel?",
    "Who is Andrei Belyaninov?", "2009?", "¿Qué incautó la Operación Sentinel?",
    "Qui était Secrétaire général de l'OMD avant Kunio Mikuriya ?", "Что было изъято в ходе операции «Sentinel»?",
    "Was wurde bei der Operation Sentinel beschlagnahmt?", "Kunio Mikuriya 何时就任世界海关组织秘书长？",
    "Kto otworzył seminarium celne?", "Hoeveel douanediensten namen deel aan de operatie?",
]
TEXTS = [
    "What did Operation Sentinel seize?", "Normandy", "",
    "The Secretary General met the head of the Russian Federal Customs Service in Moscow to explore areas for "
    "common action, and visited the Central Customs Laboratory. " * 12,  # past the 256-token window
    *(f"Customs officers seized {n} kg of narcotics at border post {n} in Central Asia." for n in range(40)),
]


def test_the_language_model_read_from_its_copy_identifies_as_the_wheels(tmp_path: Path) -> None:
    wheel = from_model_file(wheel_model())
    wheel.set_languages([lang for lang in wheel.labels if lang != "pcm"])  # as rag.query.language did before
    written = load_identifier(tmp_path, without=("pcm",))  # makes the copy
    read = load_identifier(tmp_path, without=("pcm",))  # reads it
    assert (tmp_path / FOLDER / META_FILE).is_file() and "pcm" not in read.nb_classes
    for question in QUESTIONS:
        assert written.classify(question) == read.classify(question) == wheel.classify(question)
        assert written.rank(question) == read.rank(question) == wheel.rank(question)


def test_the_compiled_embedder_imported_from_its_cache_gives_the_same_vectors(embedder: Embedder,
                                                                              tmp_path: Path) -> None:
    directory = export_dir(PACKAGED_MODEL, RECIPES["openvino-int8"])
    assert embedder.dim == 384 and (directory / "model.xml").is_file()  # the export is built
    pieces = WordPieces(directory, embedder.max_tokens)
    model = directory / "model.xml"
    uncached = OpenVinoRunner(model)
    written, imported = OpenVinoRunner(model, tmp_path / "compiled"), OpenVinoRunner(model, tmp_path / "compiled")
    assert not written.compiled.get_property("LOADED_FROM_CACHE")
    assert imported.compiled.get_property("LOADED_FROM_CACHE")
    for batch in (TEXTS[:1], TEXTS[:4], TEXTS[4:36], TEXTS):
        feed = pieces.batch(batch)
        expected = run_batch(uncached, feed)
        assert np.array_equal(run_batch(written, feed), expected)
        assert np.array_equal(run_batch(imported, feed), expected)
