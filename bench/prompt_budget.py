"""How much of the evidence a smaller prompt keeps: the prompt-budget lever, measured without the LLM.

Usage::

    .venv/bin/python bench/prompt_budget.py                          # the bundled eval set
    .venv/bin/python bench/prompt_budget.py --ratios 0 0.5 --chars 1600 800

For every answerable question of the eval set, the k best paragraphs are retrieved once; then,
per setting (``min_source_score_ratio`` x ``max_source_chars``), the prompt is built as the
pipeline builds it (in the configured ``citations.mode``; ``RAG_PRESET=write-first`` for that
one) and scored: the share of questions whose evidence paragraph is still shown (``evidence``),
the share whose every fact group can still be read in the prompt (``facts``), and the length of
its messages in the model's own tokens (the chat template adds a few). Prompt tokens set the
time to first token.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval import BUNDLED_SET, load_eval_set
from eval.matching import contains, normalise
from rag import Pipeline, Settings
from rag.answer.prompt import PromptBuilder
from rag.llm.gguf import assemble_packaged_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=BUNDLED_SET)
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.0, 0.4, 0.5, 0.6])
    parser.add_argument("--chars", type=int, nargs="+", default=[1600, 1000, 700])
    parser.add_argument("--k", type=int, default=5)
    options = parser.parse_args()
    from llama_cpp import Llama

    settings = Settings(**({"index": {"index_dir": options.index_dir}} if options.index_dir else {}))
    vocab = Llama(model_path=str(assemble_packaged_model(settings.llm.model_cache_dir, progress=False)),
                  vocab_only=True, verbose=False)
    pipeline = Pipeline(settings)
    pipeline.ensure_index()  # the default: the bundled sample, indexed on its first run
    questions = [q for q in load_eval_set(options.set) if q.answerable]
    retrieved = [(q, pipeline.retrieve(q.question, options.k)) for q in questions]
    print(f"prompt budget: {len(questions)} answerable questions of {options.set.name}, k={options.k}, "
          f"{settings.citations.mode} prompts")
    print(f"{'ratio':>5} {'chars':>5} {'sources':>7} {'evidence':>8} {'facts':>6} {'tokens p50':>10} {'p90':>5}")
    for ratio, chars in itertools.product(options.ratios, options.chars):
        shown, evidence, facts, tokens = [], [], [], []
        for question, hits in retrieved:
            builder = PromptBuilder(settings.prompts, chars, ratio, settings.citations.mode)
            built = builder.run(question.question, hits)
            text = "\n".join(m["content"] for m in built.messages)
            shown.append(len(built.hits))
            evidence.append(bool(question.evidence_keys & {h.key for h in built.hits}))
            facts.append(all(any(contains(normalise(text), alt) for alt in group) for group in question.facts))
            tokens.append(len(vocab.tokenize(text.encode())))
        tokens.sort()
        print(f"{ratio:5.2f} {chars:5d} {statistics.mean(shown):7.2f} {statistics.mean(evidence):8.2f} "
              f"{statistics.mean(facts):6.2f} {statistics.median(tokens):10.0f} {tokens[int(0.9 * len(tokens))]:5d}")


if __name__ == "__main__":
    main()
