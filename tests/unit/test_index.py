"""The index folder's writers' lock. The on-disk index itself, built with the real embedder:
tests/integration/test_index.py."""

from __future__ import annotations

from pathlib import Path


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    """One writer at a time per index folder: a second one waits (no time limit) rather than failing."""
    import threading

    from rag.store.versions import index_lock

    order: list[str] = []
    first_in, release = threading.Event(), threading.Event()

    def first() -> None:
        with index_lock(tmp_path):
            order.append("first in")
            first_in.set()
            release.wait(10)
            order.append("first out")

    def second() -> None:
        first_in.wait(10)
        with index_lock(tmp_path):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_in.wait(10)
    threads[1].join(0.5)
    assert threads[1].is_alive() and order == ["first in"]  # still waiting for the lock
    release.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first in", "first out", "second in"]
    assert [p.name for p in tmp_path.iterdir()] == [".lock"]  # nothing else: an empty index folder stays "empty"
