"""Which citation strategy puts the right paragraph behind an answer? (measured on the embedded model)

Usage::

    .venv/bin/python bench/attribution.py

Each question has one supporting paragraph, found by reading the reports. The model
answers once per question. Its raw text is then resolved under each strategy:

- ``model``: only the markers the model wrote;
- ``embedding`` / ``lexical``: all markers stripped, every sentence attributed (how well
  attribution alone recovers citations when a model writes none);
- ``model+embedding`` / ``model+lexical``: the model's markers, plus attribution for
  sentences it left unmarked (``model+embedding`` is the default).

For each strategy it prints: ``hit``, the share of questions whose supporting paragraph
is cited; ``precision``, the share of citations that are the supporting paragraph;
``uncited``, the share of answers left with no citation.
"""

from __future__ import annotations

from rag import Pipeline, Settings
from rag.answer.citations import (
    MARKER,
    embedding_attributor,
    lexical_attributor,
    resolve_citations,
)

QUESTIONS: list[tuple[str, tuple[str, int]]] = [
    ("What did Operation Sentinel seize?", ("002_50d104ffb6a67dba.txt", 9)),
    ("On what date did Mikuriya meet Belyaninov during his January 2009 visit to Moscow?", ("000_75dd1b9587c7c497.txt", 5)),
    ("Who opened the Russian-American Supply Chain Security seminar?", ("004_94483c790ad03595.txt", 5)),
    ("When did the Russian-American Supply Chain Security seminar take place?", ("004_94483c790ad03595.txt", 2)),
    ("On which agreement is customs cooperation between Russia and the USA based, and when is it dated?", ("004_94483c790ad03595.txt", 7)),
    ("Whom did Andrei Belyaninov meet on January 11, 2006?", ("003_b84c42ec5a69f457.txt", 2)),
    ("Since when has the Russian party transferred information on sea fishery products to Japanese customs?", ("003_b84c42ec5a69f457.txt", 10)),
    ("What did the WCO Secretary General sign with the Eurasian Development Bank?", ("002_50d104ffb6a67dba.txt", 11)),
    ("When did Mikuriya take office as WCO Secretary General?", ("000_75dd1b9587c7c497.txt", 8)),
    ("How many regional communication centres provide information transfer between the WCO and its members?", ("000_75dd1b9587c7c497.txt", 12)),
    ("When did the internet-based customs automation system at the Kashirskiy customs post become operational?", ("000_75dd1b9587c7c497.txt", 5)),
    ("Who gave the welcome speeches at the opening of the 2021 International Customs Forum?", ("001_14bcd5b15b6cd4c8.txt", 4)),
    ("Which US department is the Bureau of Customs and Border Protection part of?", ("004_94483c790ad03595.txt", 9)),
    ("How many WCO recommendations did Russia formally accept in October 2009?", ("002_50d104ffb6a67dba.txt", 8)),
]


def main() -> None:
    pipeline = Pipeline(Settings(llm={"backend": "embedded"}, citations={"attribution": "off"}))
    pipeline.ensure_index()  # the bundled sample, indexed on its first run
    embedding = embedding_attributor(pipeline.embedder)
    strategies = {
        "model": (False, None),
        "embedding": (True, embedding),
        "lexical": (True, lexical_attributor),
        "model+embedding": (False, embedding),
        "model+lexical": (False, lexical_attributor),
    }
    threshold = pipeline.settings.citations.attribution_min_similarity
    totals = {name: {"hit": 0, "cited": 0, "correct": 0, "uncited": 0} for name in strategies}
    prompt_tokens, first_token = [], []
    for question, gold in QUESTIONS:
        answer = pipeline.ask(question)
        prompt_tokens.append(answer.prompt_tokens or 0)
        first_token.append(answer.timings.get("llm_first_token", 0.0))
        print(f"- {question}\n  raw: {' '.join(answer.raw_text.split())[:200]}")
        for name, (strip, attributor) in strategies.items():
            raw = MARKER.sub("", answer.raw_text) if strip else answer.raw_text
            resolved = resolve_citations(raw, answer.sources, attributor, threshold, question,
                                         refusal=pipeline.settings.prompts.refusal)
            keys = [(c.doc_id, c.paragraph) for c in resolved.citations]
            counts = totals[name]
            counts["hit"] += gold in keys
            counts["cited"] += len(keys)
            counts["correct"] += keys.count(gold)
            counts["uncited"] += not keys
    n = len(QUESTIONS)
    chars = pipeline.settings.retrieval.max_source_chars
    print(f"\nmax_source_chars {chars}: mean prompt {sum(prompt_tokens) / n:.0f} tokens, "
          f"mean first token {sum(first_token[1:]) / (n - 1):.1f}s (first question, with model load, excluded)")
    print(f"{'strategy':<17} {'hit':>6} {'precision':>10} {'uncited':>8}   ({n} questions, threshold {threshold})")
    for name, c in totals.items():
        precision = c["correct"] / c["cited"] if c["cited"] else 0.0
        print(f"{name:<17} {c['hit'] / n:6.2f} {precision:10.2f} {c['uncited'] / n:8.2f}")


if __name__ == "__main__":
    main()
