"""The schema of the two collections of a Milvus index, and batched inserts into them.

Paragraphs carry their records (long texts as VARCHAR arrays: one VARCHAR holds at most 65,535
bytes), ``words`` (bm25s' tokens, see ``rag.store.milvus.analysed_words``) analysed by Milvus'
standard tokenizer with bm25s' stop words, and a BM25 function from ``words`` into ``sparse``.
Chunks carry their records, the row of their paragraph (a dense hit leads to its paragraph by id, not
by a query: a filtered query costs a scan of the collection in Milvus Lite) and their vectors (HNSW,
inner product: the vectors are normalised). ``doc_id`` and ``paragraph`` have scalar indexes.
Build parameters are nested in "params": Milvus Lite silently drops them otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rag.store.milvus_client import names

MAX_WORDS = 65_535  # bytes of a VARCHAR
BATCH_BYTES = 8_000_000
HNSW = {"M": 32, "efConstruction": 200}  # Milvus Lite has no IVF_SQ8; efConstruction 200, not FAISS' 40
BM25 = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s' defaults
CONSISTENCY = "Session"  # a writer reads its own rows at once; other processes within Milvus' staleness bound


def _text_field(schema: Any, field: str) -> None:
    from pymilvus import DataType

    schema.add_field(field, DataType.ARRAY, element_type=DataType.VARCHAR, max_length=65_535, max_capacity=4096)


def _schema(*extra: tuple[str, str]) -> Any:
    """id, doc_id, paragraph, start, end, then ``extra`` (name, "text" | "int")."""
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=4096)
    for field in ("paragraph", "start", "end"):
        schema.add_field(field, DataType.INT64)
    for field, kind in extra:
        if kind == "text":
            _text_field(schema, field)
        else:
            schema.add_field(field, DataType.INT64)
    return schema


def _create(milvus: Any, name: str, schema: Any, index: Any) -> None:
    """Create, index and load a collection. ``sync=False``: pymilvus would poll each index of an empty
    collection, half a second a time."""
    milvus.create_collection(name, schema=schema, consistency_level=CONSISTENCY)
    milvus.create_index(name, index, sync=False)
    milvus.load_collection(name)


def ensure_collections(milvus: Any, prefix: str, dim: int, stop_words: list[str]) -> tuple[str, str]:
    """Create the two collections of ``prefix`` if missing; returns (paragraphs, chunks)."""
    from pymilvus import DataType, Function, FunctionType

    paragraphs, chunks = names(prefix, dim)
    if not milvus.has_collection(paragraphs):
        schema = _schema(("text", "text"), ("boxes", "text"), ("page", "int"), ("first_chunk", "int"),
                         ("chunks", "int"))
        schema.add_field("words", DataType.VARCHAR, max_length=MAX_WORDS, enable_analyzer=True, analyzer_params={
            "tokenizer": "standard", "filter": [{"type": "stop", "stop_words": stop_words}]})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="words_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["words"], output_field_names=["sparse"]))
        index = milvus.prepare_index_params()
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params={"params": BM25})
        for field in ("doc_id", "paragraph"):  # a paragraph by key; a deleted document's rows
            index.add_index(field_name=field, index_type="INVERTED")
        _create(milvus, paragraphs, schema, index)
    if not milvus.has_collection(chunks):
        schema = _schema(("embed_text", "text"), ("paragraph_row", "int"))
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        index = milvus.prepare_index_params()
        index.add_index(field_name="vector", index_type="HNSW", metric_type="IP", params={"params": HNSW})
        index.add_index(field_name="doc_id", index_type="INVERTED")
        _create(milvus, chunks, schema, index)
    return paragraphs, chunks


def insert_rows(milvus: Any, collection: str, partition_name: str, rows: Iterable[dict]) -> None:
    """Insert in batches of at most ~``BATCH_BYTES`` or 2,000 rows (gRPC caps a message's size)."""
    batch: list[dict] = []
    size = 0
    for row in rows:
        batch.append(row)
        size += sum(sum(map(len, v)) if isinstance(v, list) and v and isinstance(v[0], str) else
                    len(v) if isinstance(v, str) else 8 for v in row.values()) + 4 * len(row.get("vector", ()))
        if size >= BATCH_BYTES or len(batch) >= 2000:
            milvus.insert(collection, batch, partition_name=partition_name)
            batch, size = [], 0
    if batch:
        milvus.insert(collection, batch, partition_name=partition_name)
