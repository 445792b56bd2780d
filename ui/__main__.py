"""``python -m ui``: the same as ``rag serve``, with the same options and one-line errors.

Example::

    python -m ui --port 7861 --corpus ~/reports
"""

from __future__ import annotations

import sys

from rag.app.cli import main


def run() -> None:
    sys.argv[1:1] = ["serve"]  # reuse the CLI's option parsing and error handling
    main()


if __name__ == "__main__":
    run()
