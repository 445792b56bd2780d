"""`rag index` end to end on about 20k paragraphs of real English text: paragraphs per second.

Usage::

    .venv/bin/python bench/index_throughput.py                       # 20k paragraphs, default settings
    .venv/bin/python bench/index_throughput.py --paragraphs 5000 --set index.window_sentences=0
    .venv/bin/python bench/index_throughput.py --set index.embedder=all-MiniLM-L6-v2@onnx-int8

There is no archive of reports on this machine, so the corpus is the real prose at hand: the
package descriptions in the venv's ``*.dist-info/METADATA`` and the docstrings of the Python
standard library, split at blank lines into files of 50 paragraphs (paragraphs of 8 to 400 words,
the shape of report text; code and tables skipped; short neighbouring blocks joined up to 40
words). Where that gives fewer distinct paragraphs than asked, they repeat in files of another
title; the title is part of what is embedded, so a repeat costs a full embedding too.

Reported: paragraphs, chunks (what is embedded: paragraphs, long-paragraph pieces and sentence
windows), seconds, paragraphs/s and chunks/s, against the issue's target of 150 paragraphs/s.
The embedding model load is timed apart, since a long `rag index` pays it once.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.indexing import update_index
from rag.settings import Settings

TARGET = 150.0  # paragraphs/s (issue 10)


def _prose(text: str) -> list[str]:
    """Blank-line blocks that read as prose: 8-400 words, mostly letters, no code or tables."""
    blocks = []
    for block in re.split(r"\n\s*\n", text):
        flat = " ".join(block.split())
        words = flat.split()
        letters = sum(c.isalpha() or c.isspace() for c in flat)
        if 8 <= len(words) <= 400 and letters > 0.85 * len(flat) and not re.search(r"[{}<>=]|^\s*[$>]", block):
            blocks.append(flat)
    return blocks


def real_paragraphs(limit: int) -> list[str]:
    """Distinct prose paragraphs, short neighbouring blocks of one source joined up to 40 words."""
    seen: set[str] = set()
    found: list[str] = []

    def add(text: str) -> None:
        pending = ""
        for block in _prose(text) + [""]:
            pending = f"{pending} {block}".strip() if block else pending
            if (len(pending.split()) >= 40 or not block) and pending and pending not in seen:
                seen.add(pending)
                found.append(pending)
                pending = ""

    for metadata in sorted(Path(sys.prefix).glob("lib/python3*/site-packages/*.dist-info/METADATA")):
        add(metadata.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[-1])
    names = sorted(n for n in sys.stdlib_module_names if not n.startswith("_") and n not in ("this", "antigravity"))
    for name in names:
        try:
            module = importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - a module that does not import here has no docstrings for us
            continue
        for value in [module, *vars(module).values()]:
            members = list(vars(value).values()) if isinstance(value, type) else []
            for item in [value, *members]:
                doc = getattr(item, "__doc__", None)
                if isinstance(doc, str) and getattr(item, "__module__", name) in (name, None):
                    add(doc)
    return found[:limit]


def write_corpus(folder: Path, paragraphs: int) -> int:
    if (folder / ".complete").is_file():
        return len(list(folder.glob("*.txt")))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    distinct = real_paragraphs(paragraphs)
    texts = [distinct[i % len(distinct)] for i in range(paragraphs)]  # in files of another title: embedded again
    for number in range(0, len(texts), 50):
        body = "\n\n".join(texts[number:number + 50])
        (folder / f"doc-{number // 50:04d}.txt").write_text(f"Document {number // 50}\n\n{body}\n", encoding="utf-8")
    (folder / ".complete").write_text("", encoding="utf-8")
    return -(-len(texts) // 50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paragraphs", type=int, default=20_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-throughput"))
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="a setting to override, e.g. index.window_sentences=0")
    args = parser.parse_args()
    corpus, index_dir = args.work / f"corpus-{args.paragraphs}", args.work / "index"
    files = write_corpus(corpus, args.paragraphs)
    overrides: dict[str, dict[str, str]] = {}
    for item in args.set:
        key, value = item.split("=", 1)
        section, field = key.split(".", 1)
        overrides.setdefault(section, {})[field] = value
    index_section = {"corpus_dir": corpus, "index_dir": index_dir, **overrides.pop("index", {})}
    settings = Settings(index=index_section, **overrides)  # type: ignore[arg-type]

    started = time.perf_counter()
    embedder = settings.make_embedder()
    embedder.encode(["warm up"])
    load = time.perf_counter() - started
    shutil.rmtree(index_dir, ignore_errors=True)
    started = time.perf_counter()
    _index, report = update_index(corpus, index_dir, embedder, settings.index, progress=True)
    seconds = time.perf_counter() - started
    rate = report.paragraphs / seconds
    print(f"{files} files, {report.paragraphs} paragraphs, {report.chunks} chunks ({report.embedded_chunks} embedded); "
          f"embedder {embedder.name} loaded in {load:.1f}s; settings {args.set or 'default'}")
    print(f"indexed in {seconds:.1f}s: {rate:.0f} paragraphs/s, {report.chunks / seconds:.0f} chunks/s "
          f"(target {TARGET:.0f} paragraphs/s: {rate / TARGET:.2f}x)")


if __name__ == "__main__":
    main()
