"""Ask a folder of reports; every answer cites the paragraphs it rests on.

Example::

    from rag import ask
    a = ask("What did Operation Sentinel seize?")
    print(a.text)                     # the answer with [n] markers
    for n, c in enumerate(a.citations, 1):
        print(n, c.doc_id, c.paragraph)
"""

from rag.answer import Answer, Citation
from rag.errors import RagError
from rag.pipeline import Pipeline, ask, default_pipeline
from rag.settings import Settings

__all__ = ["Answer", "Citation", "Pipeline", "RagError", "Settings", "ask", "default_pipeline"]
