"""The Gradio chat over the reports: streamed, cited answers, a source viewer and uploads.

``ui.app.build_app(pipeline)`` builds the app, ``ui.serve.serve(settings)`` starts it
(what ``rag serve`` and ``python -m ui`` run), ``ui.render`` turns answers into HTML.
Gradio is imported only by those modules, so ``import ui`` stays cheap.

Example::

    from rag import Pipeline, Settings
    from ui.app import build_app
    build_app(Pipeline(Settings())).launch(prevent_thread_lock=True, server_port=7861)
"""
