"""The indexing progress bar: texts done of all, texts per second, time left."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Texts per second, averaged over rich's recent window (blank until there is one)."""

    def __init__(self, unit: str = "paragraphs/s") -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.0f} {self.unit}" if speed else "", style="progress.data.speed")


@contextmanager
def embedding_progress(total: int, disable: bool = False,
                       description: str = "Embedding paragraphs") -> Iterator[Callable[[int], None]]:
    """A transient bar; yields ``advance(n)``."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
               TimeRemainingColumn())
    with Progress(*columns, transient=True, disable=disable) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
