"""Do the bundled corpora still chunk exactly as before? (a check to run around any chunking change)

Usage::

    .venv/bin/python bench/chunk_identity.py --write /tmp/chunks-before.json   # before the change
    .venv/bin/python bench/chunk_identity.py --compare /tmp/chunks-before.json # after it: exit 1 on any difference

Existing indexes keep their chunks (unchanged files are never re-chunked), so a change to
``rag.documents.paragraphs`` (or to the sentence splitter in ``rag.text``) must give every bundled
report the same chunks, or retrieval silently differs between old and new files. The chunks of
``data/reports`` and ``data/squad2-normans`` are taken with the real tokenizer at the default settings
and at smaller windows and other overlaps, which exercise the sentence and word packing that the
default window rarely needs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings import make_embedder
from rag.documents.paragraphs import chunk_documents
from rag.documents.readers import list_files, load_documents

CORPORA = [ROOT / "data" / "reports", ROOT / "data" / "squad2-normans"]
# (max_tokens, overlap_sentences, window_sentences); the first is what `rag index` uses.
SETTINGS = [(None, 1, 2), (128, 1, 2), (64, 1, 0), (40, 0, 3), (24, 2, 1), (16, 1, 2)]


def snapshot() -> dict[str, list[list]]:
    """Every chunk (doc_id, paragraph, span, embedded text) per corpus and setting."""
    embedder = make_embedder()
    result: dict[str, list[list]] = {}
    for corpus in CORPORA:
        documents, _ = load_documents(corpus, list_files(corpus, (".txt", ".md", ".html", ".htm", ".pdf")))
        for max_tokens, overlap, window in SETTINGS:
            _, chunks = chunk_documents(documents, embedder.count_tokens, max_tokens or embedder.max_tokens,
                                        overlap, window)
            key = f"{corpus.name} max_tokens={max_tokens or embedder.max_tokens} overlap={overlap} windows={window}"
            result[key] = [[c.doc_id, c.paragraph, c.start, c.end, c.embed_text] for c in chunks]
    return result


def digest(chunks: list[list]) -> str:
    return hashlib.sha256(json.dumps(chunks, ensure_ascii=False).encode()).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", type=Path, help="save the current chunks here")
    mode.add_argument("--compare", type=Path, help="compare the current chunks with a saved file")
    options = parser.parse_args()
    current = snapshot()
    if options.write:
        options.write.write_text(json.dumps(current, ensure_ascii=False))
        for key, chunks in current.items():
            print(f"{key:<60} {len(chunks):6d} chunks  {digest(chunks)}")
        print(f"wrote {options.write}")
        return
    saved = json.loads(options.compare.read_text())
    differences = 0
    for key in sorted(set(saved) | set(current)):
        before, after = saved.get(key), current.get(key)
        same = before == after
        differences += not same
        print(f"{key:<60} {'same' if same else 'DIFFERENT'}  "
              f"{len(before or []):6d} -> {len(after or []):6d} chunks")
        if not same and before and after:
            first = next((i for i, (b, a) in enumerate(zip(before, after)) if b != a), min(len(before), len(after)))
            print(f"    first difference at chunk {first}: {before[first:first + 1]} -> {after[first:first + 1]}")
    print("identical" if not differences else f"{differences} setting(s) differ")
    raise SystemExit(1 if differences else 0)


if __name__ == "__main__":
    main()
