"""Stage 1, ingestion: a folder of reports -> documents -> numbered paragraphs -> embedded chunks -> a
versioned FAISS + BM25 index on disk (``rag index``). Nothing here knows about questions."""
