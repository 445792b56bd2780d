"""Where Milvus segments live: the connection, the two collections and their partitions.

One index folder owns two collections, ``<prefix>_paragraphs`` (records, and the BM25 function
over title + text) and ``<prefix>_chunks<dim>`` (records and vectors; the dimension is in the name
so a new embedder never meets an old schema). Each segment is one partition of both, named after
it: a search reads only the partitions it is asked for (Milvus Lite prunes the others, a server
routes by them), and a merged-away or orphaned segment goes with ``drop_partition``, at once,
instead of a delete that leaves tombstones for Milvus' own compaction to clear.

Connections are opened once per process and URI: Milvus Lite (a ``.db`` folder) runs in-process
and takes a lock on it, so one process at a time; a server (``http://milvus:19530``) takes many.
Every failure is one line (``MilvusUnavailable``) saying what to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rag.errors import RagError, one_line
from rag.store.integrity import LITE

log = logging.getLogger(__name__)

INSTALL = "pip install 'rag-reports[milvus]'"
LITE_FILE = LITE  # Milvus Lite's folder inside the index folder when index.uri is empty
SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")
_clients: dict[str, Any] = {}
_lock = threading.Lock()


class MilvusUnavailable(RagError):
    """Milvus cannot be used: the package is missing, the server does not answer, or Lite is locked."""


def is_server(uri: str) -> bool:
    return uri.startswith(SERVER_SCHEMES)


def record_uri(directory: Path, setting: str) -> str:
    """What the manifest records: "" for Lite in the index folder (it moves with it), else the URI or path."""
    if not setting or is_server(setting):
        return setting
    path = Path(setting).expanduser().resolve()
    return "" if path == (directory / LITE_FILE).resolve() else str(path)


def resolve_uri(directory: Path, recorded: str) -> str:
    """The URI pymilvus connects to; a Lite path must end in ``.db`` for pymilvus to start Lite."""
    if is_server(recorded):
        return recorded
    path = Path(recorded) if recorded else directory / LITE_FILE
    if path.suffix != ".db":
        raise MilvusUnavailable(f"index.uri {recorded!r} is neither a Milvus server (http://host:19530) "
                                "nor a Milvus Lite path ending in .db")
    return str(path.resolve())


def collection_prefix(directory: Path, setting: str) -> str:
    """``index.collection``, else one derived from the index folder (its name and a hash of its path)."""
    if setting:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", setting):
            raise RagError(f"index.collection {setting!r} must be letters, digits and underscores, "
                           "not starting with a digit")
        return setting
    resolved = str(directory.expanduser().resolve())
    name = re.sub(r"[^A-Za-z0-9_]", "_", directory.name)[:40]
    return f"rag_{name}_{hashlib.sha1(resolved.encode()).hexdigest()[:8]}"


def partition(segment: str) -> str:
    """The partition of a segment: Milvus names allow letters, digits and underscores only."""
    return segment.replace("-", "_")


def names(prefix: str, dim: int) -> tuple[str, str]:
    """(paragraph collection, chunk collection) of a prefix."""
    return f"{prefix}_paragraphs", f"{prefix}_chunks{dim}"


def chunk_collections(milvus: Any, prefix: str) -> list[str]:
    """The chunk collections of a prefix (one per embedding dimension ever used)."""
    return [c for c in milvus.list_collections() if re.fullmatch(re.escape(prefix) + r"_chunks\d+", c)]


def _lite_locked(path: str) -> bool:
    """Whether another process holds Milvus Lite's lock on ``path`` (it takes ``flock`` on path/LOCK)."""
    try:
        import fcntl
    except ImportError:  # Windows: milvus-lite's lock is not flock there; say what we know
        return False
    lock = Path(path) / "LOCK"
    if not lock.exists():
        return False
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


class _LastError(logging.Handler):
    """Keeps the exception milvus-lite logs when its server fails to start (pymilvus only says "failed")."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.error = ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.error = one_line(record.exc_info[1])


def reason(exc: BaseException) -> str:
    """pymilvus' message without its "<MilvusException: (code=2, message=...)>" wrapping."""
    message = getattr(exc, "message", None)
    return one_line(Exception(message)) if isinstance(message, str) and message else one_line(exc)


class _Guarded:
    """A ``MilvusClient`` whose failures are one line naming the server (``MilvusUnavailable``)."""

    def __init__(self, milvus: Any, uri: str) -> None:
        self.milvus, self.uri = milvus, uri

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.milvus, name)

        def guarded(*args: Any, **kwargs: Any) -> Any:
            import grpc
            from pymilvus import MilvusException

            try:
                return method(*args, **kwargs)
            except (MilvusException, grpc.RpcError) as exc:
                raise MilvusUnavailable(f"Milvus at {self.uri} failed ({name}): {reason(exc)}") from None

        return guarded


def client(uri: str) -> Any:
    """A connected ``MilvusClient`` for ``uri``, shared by the process; one-line errors."""
    with _lock:
        if uri in _clients:
            return _clients[uri]
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise MilvusUnavailable(f"index type 'milvus' needs pymilvus and milvus-lite: {INSTALL}") from None
        logging.getLogger("pymilvus").setLevel(logging.ERROR)  # its warnings about what Lite lacks are not ours
        if is_server(uri):
            try:
                made = MilvusClient(uri=uri, timeout=10)
            except Exception as exc:  # noqa: BLE001 - pymilvus raises several kinds; all mean "not there"
                raise MilvusUnavailable(f"Milvus at {uri} is unreachable ({reason(exc)}); start it, or point "
                                        "RAG_INDEX__URI at a running one (empty: Milvus Lite in the index folder)"
                                        ) from None
        else:
            made = _open_lite(uri, MilvusClient)
        _clients[uri] = _Guarded(made, uri)
        return _clients[uri]


def _open_lite(path: str, factory: Any) -> Any:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # Lite's in-process gRPC server logs a traceback for each RPC it lacks (AllocTimestamp, asked by
    # pymilvus while it waits for an index build, then does without): noise, not a failure.
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    logger, catcher = logging.getLogger("milvus_lite.server_manager"), _LastError()
    logger.addHandler(catcher)
    propagate, logger.propagate = logger.propagate, False  # its traceback is our one line below
    try:
        return factory(uri=path)
    except ImportError:
        raise MilvusUnavailable(f"Milvus Lite is not installed: {INSTALL}") from None
    except Exception as exc:  # noqa: BLE001
        if _lite_locked(path):
            raise MilvusUnavailable(
                f"the Milvus Lite database {path} is open in another process; Milvus Lite allows one process at a "
                "time: stop the other one, or use Milvus standalone for several (RAG_INDEX__URI=http://host:19530)"
            ) from None
        raise MilvusUnavailable(f"cannot open the Milvus Lite database {path}: "
                                f"{catcher.error or reason(exc)}") from None
    finally:
        logger.removeHandler(catcher)
        logger.propagate = propagate


def release_all() -> None:
    """Close every connection and stop this process's Milvus Lite servers (their locks go with them).

    Tests call it before another process opens the same Lite database; a process exiting does it anyway.
    """
    with _lock:
        opened = dict(_clients)
        _clients.clear()
    for uri, made in opened.items():
        with contextlib.suppress(Exception):
            made.milvus.close()
        if not is_server(uri):
            with contextlib.suppress(ImportError):
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(uri)


def drop_unlisted(directory: Path, recorded_uri: str, prefix: str, keep: Iterable[str]) -> None:
    """Drop the partitions of segments that ``keep`` does not name: merged away, or left by a killed writer."""
    milvus = client(resolve_uri(directory, recorded_uri))
    wanted = {partition(name) for name in keep} | {"_default"}
    collections = [c for c in [f"{prefix}_paragraphs"] if milvus.has_collection(c)] + chunk_collections(milvus, prefix)
    for collection in collections:
        for name in set(milvus.list_partitions(collection)) - wanted:
            log.info("removing stale segment %s from Milvus collection %s", name, collection)
            drop_partition(milvus, collection, name)


def drop_partition(milvus: Any, collection: str, name: str) -> None:
    """Release (a server refuses to drop a loaded partition; Lite releases whole collections only) and drop."""
    if is_server(milvus.uri):
        milvus.release_partitions(collection, [name])
    milvus.drop_partition(collection, name)


def ensure_loaded(milvus: Any, collection: str, name: str) -> None:
    """Load a collection (a fresh process, a server restart) or, on a server, one new partition of it."""
    from pymilvus.client.types import LoadState

    if milvus.get_load_state(collection)["state"] != LoadState.Loaded:
        milvus.load_collection(collection)
    elif is_server(milvus.uri) and milvus.get_load_state(collection, partition_name=name)["state"] != LoadState.Loaded:
        milvus.load_partitions(collection, [name])  # Milvus Lite loads whole collections only

