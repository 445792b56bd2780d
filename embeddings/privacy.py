"""Nothing this program imports may phone home: each dependency's telemetry is switched off before it loads.

A private tool connects only to servers the user configured. Some dependencies report their use unless told
not to: ``import openvino`` makes a DNS query for Google Analytics and writes ``~/intel/openvino_ga_cid``
(through ``openvino_telemetry``, which it imports when it can); nncf does the same; Hugging Face libraries
and Gradio have their own switches. ``keep_private`` is called when ``embeddings`` is imported, which
``rag.settings`` does: so it runs before any of them in every process that reads settings (``rag/__init__.py``
itself imports nothing, so that ``python -m rag.torch_cpu`` runs before the dependencies are installed).
``tests/test_privacy.py`` checks with strace.

Example::

    from embeddings.privacy import keep_private
    keep_private()   # idempotent; already done by `import embeddings`
"""

from __future__ import annotations

import os
import sys

# Each library's own switch: set unless the user set it. HF_HUB_OFFLINE also keeps the hub from being asked
# for a model at run time (the packaged models are on disk).
QUIET_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "DO_NOT_TRACK": "1",
}
# Modules that only report usage: importing them fails, and their users fall back to a stub (openvino's
# converter and nncf both catch the ImportError).
BLOCKED_MODULES = ("openvino_telemetry",)


def keep_private() -> None:
    """Switch off every known telemetry in this process, before the libraries that send it are imported."""
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    for name in BLOCKED_MODULES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # `import name` now raises ImportError
