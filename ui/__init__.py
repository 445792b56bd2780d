"""The Gradio chat over the reports: streamed, cited answers, a source viewer and uploads.

``ui.app.build_app(pipeline)`` builds the app, ``ui.serve.serve(settings)`` starts it
(what ``rag serve`` and ``python -m ui`` run), ``ui.render`` turns answers into HTML.
Gradio is imported only by those modules, so ``import ui`` stays cheap.

Example::

    from rag import Pipeline, Settings
    from ui.app import build_app
    build_app(Pipeline(Settings())).launch(prevent_thread_lock=True, server_port=7861)
"""

from __future__ import annotations

import os

from rag.settings import Settings

# Gradio reads its working folder once, when it is imported: ours (ui.temp_dir), set before any module of
# this package imports it, so uploads and cached files stay in a folder of this program's.
os.environ["GRADIO_TEMP_DIR"] = str(Settings().ui.temp_dir.expanduser())  # one spelling: RAG_UI__TEMP_DIR
