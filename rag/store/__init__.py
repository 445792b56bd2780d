"""Stage 3, the index store: embedded chunks and paragraph records on disk (or in Milvus), versioned, verified
and searched by vector and by keyword. Nothing here reads documents or knows about questions."""
