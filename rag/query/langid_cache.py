"""py3langid's model, kept decompressed in the model cache, so a question's language is told without 0.3 s of lzma.

py3langid ships its model as one xz-compressed npz (4.6 MB) and decompresses all of it on every load: 0.33 of the
0.5 s a load costs (cProfile), once per process, on every English question of four words or more. Here its six
arrays are kept as ``.npy`` files in ``<llm.model_cache_dir>/py3langid/``, the languages a caller leaves out
already left out as ``set_languages`` leaves them out, memory-mapped on load and converted as py3langid's own
loader converts them, so ``classify`` and ``rank`` give the same results (0.07 s instead of 0.5 s, cProfile). ``model.json``, written
last, names the sha256 of the wheel's model file and of py3langid's loader code, so an upgrade writes a new copy;
and the copy is used only if, when written, it gave the very arrays py3langid's loader gives (``same_as_wheel``).
Without a usable copy (an unwritable cache, a damaged file) the wheel's file is read, as before.

Example::

    identifier = load_identifier(settings.llm.model_cache_dir, without=("pcm",))  # None: the wheel's file
    identifier.classify("What did Operation Sentinel seize?")    # ("en", 0.99...)
"""

from __future__ import annotations

import contextlib
import json
import logging
import lzma
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.cache_files import DIGESTS_FILE, build_once, file_digests

log = logging.getLogger(__name__)

FOLDER = "py3langid"
META_FILE = "model.json"  # written last: the copy is whole when it names the current sources
FORMAT = 1  # bump when the layout of the copy changes
ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")  # the npz's arrays (py3langid.modelio)
PROBES = ("What did Operation Sentinel seize?", "¿Qué incautó la Operación Sentinel?", "Что было изъято?")


def wheel_model() -> Path:
    """The model file inside the installed py3langid."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    return Path(MODEL_DIR) / MODEL_FILE


def from_model_file(source: Path, without: tuple[str, ...] = ()) -> Any:
    """py3langid's own load (the whole file decompressed), with normalised probabilities, restricted to its
    languages but ``without``."""
    from py3langid.langid import LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(source, norm_probs=True)
    if without:
        identifier.set_languages([lang for lang in identifier.labels if lang not in without])
    return identifier


def from_arrays(folder: Path) -> Any:
    """The identifier from the ``.npy`` copy, each array converted as ``py3langid.modelio.load_model`` converts it.

    The copy holds the languages already restricted (``_write_copy``), so the 28 MB table stays memory-mapped: a
    question reads the rows of its own features, where ``set_languages`` would copy all of them."""
    from py3langid.langid import LanguageIdentifier
    from py3langid.modelio import _to_array

    data = {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ARRAYS}
    return LanguageIdentifier(np.asarray(data["ptc"]), np.asarray(data["pc"]), data["classes"].tolist(),
                              _to_array(data["nextmove"]), data["out_feat"].tolist(), norm_probs=True,
                              tk_row=_to_array(data["nextmove_row"]))


def same_model(first: Any, second: Any) -> bool:
    """Whether two identifiers hold the same arrays, of the same types, and rank the probe questions alike."""
    for name in ("nb_ptc", "nb_pc", "nb_classes", "tk_nextmove", "tk_row", "tk_output"):
        a, b = getattr(first, name), getattr(second, name)
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                    and np.array_equal(a, b)):
                return False
        elif type(a) is not type(b) or getattr(a, "typecode", None) != getattr(b, "typecode", None) or a != b:
            return False
    return all(first.rank(text) == second.rank(text) for text in PROBES)


def _read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _write_copy(source: Path, out: Path, without: tuple[str, ...], fingerprint: dict[str, Any]) -> None:
    """Decompress ``source`` into ``out`` as one ``.npy`` per array, the languages ``without`` left out as
    ``set_languages`` leaves them out; check it against py3langid's own load."""
    out.mkdir(parents=True)
    with lzma.open(source) as compressed, (out / "model.npz").open("wb") as plain:
        shutil.copyfileobj(compressed, plain, length=1 << 20)
    with np.load(out / "model.npz", allow_pickle=False) as data:
        arrays = {name: data[name] for name in ARRAYS}
    (out / "model.npz").unlink()
    keep = [i for i, lang in enumerate(arrays["classes"].tolist()) if lang not in without]
    arrays.update(ptc=arrays["ptc"][:, keep], pc=arrays["pc"][keep], classes=arrays["classes"][keep])
    for name, array in arrays.items():
        np.save(out / f"{name}.npy", array, allow_pickle=False)
    try:
        same = same_model(from_arrays(out), from_model_file(source, without))
    except Exception as exc:  # noqa: BLE001 - e.g. a py3langid whose loader changed: recorded, not retried
        log.debug("py3langid's model cannot be read from a copy: %s", exc)
        same = False
    if not same:
        log.warning("py3langid's model read from a decompressed copy differs from the wheel's; the wheel's is used")
    (out / META_FILE).write_text(json.dumps({"fingerprint": fingerprint, "same_as_wheel": same}, indent=1) + "\n")


def cached_identifier(cache_dir: Path, source: Path | None = None, without: tuple[str, ...] = ()) -> Any:
    """The identifier from the copy in ``cache_dir`` (written first if missing or stale). Raises OSError for an
    unwritable cache, ValueError when the copy differs from the wheel's, and what a damaged copy raises (and
    then forgets that copy, so that the next load makes it again)."""
    import py3langid.langid
    import py3langid.modelio

    source = source or wheel_model()
    folder = cache_dir.expanduser() / FOLDER
    loaders = [Path(py3langid.modelio.__file__), Path(py3langid.langid.__file__)]
    digests = file_digests([source, *loaders], folder.parent / DIGESTS_FILE)
    fingerprint = {"format": FORMAT, "arrays": list(ARRAYS), "without": sorted(without),
                   "files": [[path.name, path.stat().st_size, digest]
                             for path, digest in zip([source, *loaders], digests)]}

    def current() -> bool:
        meta = _read_meta(folder)
        return meta is not None and meta.get("fingerprint") == fingerprint

    build_once(folder, current, lambda out: _write_copy(source, out, without, fingerprint))
    meta = _read_meta(folder) or {}
    if meta.get("same_as_wheel") is not True:
        raise ValueError(f"the copy in {folder} differs from py3langid's model")
    try:
        return from_arrays(folder)
    except Exception:
        with contextlib.suppress(OSError):  # a damaged copy: the next process makes it again
            (folder / META_FILE).unlink()
        raise


def load_identifier(cache_dir: Path | None, source: Path | None = None, without: tuple[str, ...] = ()) -> Any:
    """py3langid's identifier for ``source`` (default: the wheel's model), restricted to its languages but
    ``without``: from its decompressed copy in ``cache_dir`` when there is (or can be) one, else from ``source``."""
    if cache_dir is not None:
        try:
            return cached_identifier(cache_dir, source, without)
        except Exception as exc:  # noqa: BLE001 - any fault of the copy only costs the slower load below
            log.debug("py3langid's model read from the wheel: %s", " ".join(str(exc).split()) or type(exc).__name__)
    return from_model_file(source or wheel_model(), without)
