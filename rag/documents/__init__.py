"""Stage 1, documents: a folder of reports -> ``Document``s -> numbered ``Paragraph``s -> chunks.

Readers (txt, md, html, pdf, docx) sit in one table (``rag.documents.readers``); nothing here knows about
vectors, indexes or questions."""
