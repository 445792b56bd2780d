"""The commands other packages add to ``rag``, found through this one table by module name.

``ui`` and ``eval`` import ``rag``, never the reverse: ``rag serve`` lives in ``ui.cli`` and ``rag eval``
in ``eval.cli``, and the ``rag`` command group imports them only when one is listed (``rag --help``) or
run, so ``rag ask`` loads neither Gradio nor the eval code.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer import _click  # typer's bundled click (typer>=0.29,<0.30): the types its group works with
from typer.core import TyperGroup

# command -> "module:function"; the function is a typer command (its parameters are its options)
COMMANDS = {"serve": "ui.cli:serve", "eval": "eval.cli:eval_command"}


def load(name: str) -> _click.Command:
    """The click command for ``COMMANDS[name]``, built as typer builds its own."""
    module, _, function = COMMANDS[name].partition(":")
    single = typer.Typer(add_completion=False)
    single.command(name)(getattr(importlib.import_module(module), function))
    return typer.main.get_command(single)


class CommandGroup(TyperGroup):
    """The ``rag`` group: its own commands, then those of ``COMMANDS`` in table order, each loaded on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*(name for name in self.commands if name not in COMMANDS), *COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> _click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            self.commands[cmd_name] = load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, _click.Command | None, list[str]]:
        if args and args[0] not in self.commands and args[0] not in COMMANDS:
            for name in COMMANDS:  # an unknown command: "Did you mean ...?" considers these too
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)
