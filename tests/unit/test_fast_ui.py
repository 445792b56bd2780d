"""The web UI's handlers over the fakes: what the chat shows while and after answering, the ``/ask`` endpoint's
handler, and an upload indexed in the background. No server and no browser (those are in tests/e2e)."""

from __future__ import annotations

import copy
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import gradio as gr
import pytest

from rag.pipeline import Pipeline
from rag.settings import BUNDLED_CORPUS, Settings
from rag.types import Message
from tests.conftest import SENTINEL, SENTINEL_QUESTION
from tests.fakes import EXTRACT_SYSTEM, REWRITE_SYSTEM_PROMPT, FakeEmbedder, FakeLLM, answer_citing
from ui.app import ChatApp

SENTINEL_LABEL = f"{SENTINEL[0]} ¶{SENTINEL[1]}"
CLAIM = "Operation Sentinel resulted in over 100 seizures of drugs"
FOLLOW_UP = "And when did it take place?"
REWRITTEN = "When did Operation Sentinel take place?"
DOWN = "Ollama is not reachable at http://127.0.0.1:9; start it with `ollama serve`"


class Conversation:
    """A model that rewrites the follow-up and cites the Sentinel paragraph for both questions (in the extract
    mode it chooses the sentence that holds the answer, then writes the claim)."""

    def _script(self, messages: list[Message]) -> answer_citing:
        if any(m["content"].endswith(f"Question: {REWRITTEN}") for m in messages if m["role"] == "user"):
            return answer_citing("August and September 2009", "It took place in August and September 2009")
        return answer_citing("over 100 seizures", CLAIM)

    def __call__(self, messages: list[Message]) -> str | None:
        return REWRITTEN if messages[0]["content"] == REWRITE_SYSTEM_PROMPT else self._script(messages)(messages)

    def choose(self, messages: list[Message], options: Sequence[str]) -> list[str]:
        return self._script(messages).choose(messages, options)


conversation = Conversation()


def seen(updates: Iterator[tuple[list[dict[str, str]], list[dict], object]]) -> list[tuple]:
    """Each update as the browser received it: the handler edits its chat list in place between updates."""
    return [copy.deepcopy(update) for update in updates]


def chat_over(index_dir: Path, llm: FakeLLM, tmp_path: Path, corpus: Path = BUNDLED_CORPUS) -> ChatApp:
    # The model writes its answer from its choice (citations.write_answer), so the chat shows both: quote, answer.
    settings = Settings(index={"corpus_dir": corpus, "index_dir": index_dir}, ui={"workspace_corpus_dir": tmp_path / "workspace"},
                        citations={"write_answer": True, "add_best_sentence": "off"})
    return ChatApp(Pipeline(settings, embedder=FakeEmbedder(), llm=llm))


def test_the_chat_streams_a_cited_answer_and_understands_a_follow_up(fake_index_dir: Path, tmp_path: Path) -> None:
    llm = FakeLLM(conversation)
    chat = chat_over(fake_index_dir, llm, tmp_path)
    updates = seen(chat.respond(SENTINEL_QUESTION, 5, []))

    (shown, _, box), *streaming, (final, turns, _) = updates
    assert box == "" and shown[0]["content"] == SENTINEL_QUESTION and "Reading the reports" in shown[1]["content"]
    assert len(streaming) > 3 and all(b != "" for _, _, b in streaming)  # only the first update clears the box
    assert "rag-streaming" in streaming[-1][0][-1]["content"] and "seizures of drugs" in streaming[-1][0][-1]["content"]
    html = final[-1]["content"]
    assert 'class="rag-answer"' in html and SENTINEL_LABEL in html and "<mark>" in html
    assert turns == [{"question": SENTINEL_QUESTION, "answer": f"{CLAIM} [1].", "html": html}]

    *_, (final, turns, _) = seen(chat.respond(FOLLOW_UP, 5, turns))
    rewrite = llm.calls[1]
    assert rewrite.system == REWRITE_SYSTEM_PROMPT and f"Assistant: {CLAIM}" in rewrite.user
    assert f"Follow-up understood as: <q>{REWRITTEN}</q>" in final[-1]["content"]
    assert SENTINEL_LABEL in final[-1]["content"] and len(turns) == 2 and len(final) == 4


def test_the_chat_shows_an_unavailable_model_in_one_line_and_answers_once_it_is_back(
        fake_index_dir: Path, tmp_path: Path) -> None:
    llm = FakeLLM(conversation, unavailable=DOWN)
    chat = chat_over(fake_index_dir, llm, tmp_path)
    *_, (shown, turns, _) = seen(chat.respond(SENTINEL_QUESTION, 5, []))
    assert 'class="rag-error"' in shown[-1]["content"] and f"<p>{DOWN}</p>" in shown[-1]["content"]
    assert turns[0]["answer"] is None  # an error is no answer to follow up on

    llm.unavailable = None
    *_, (shown, turns, _) = seen(chat.respond(SENTINEL_QUESTION, 5, turns))
    assert SENTINEL_LABEL in shown[-1]["content"] and [t["answer"] for t in turns] == [None, f"{CLAIM} [1]."]
    # the failed turn was not sent as history: no rewrite, the question went straight to the evidence step
    assert [c.system for c in llm.calls] == [EXTRACT_SYSTEM] and len(llm.choose_calls) == 2


def test_the_ask_endpoint_returns_markdown_or_one_line_errors(fake_index_dir: Path, tmp_path: Path) -> None:
    llm = FakeLLM(conversation)
    chat = chat_over(fake_index_dir, llm, tmp_path)
    markdown = chat.ask_markdown(SENTINEL_QUESTION)
    quote = "The Operation resulted in over 100 seizures of drugs; more than 160 kg ranging from heroin to opium"
    assert markdown.startswith(f"> “{quote}, and from cannabis to marijuana.” [1]\n\n{CLAIM} [1].\n\n**Sources**"
                               f"\n\n[1] **{SENTINEL_LABEL}**")  # the evidence first, then the answer
    assert "> Whilst in Russia" in markdown and f"**{quote}" in markdown

    with pytest.raises(gr.Error) as empty:
        chat.ask_markdown("  ")
    assert empty.value.message == "the question is empty; ask something about the reports"
    llm.unavailable = DOWN
    with pytest.raises(gr.Error) as down:
        chat.ask_markdown(SENTINEL_QUESTION)
    assert down.value.message == DOWN


def test_an_upload_is_indexed_in_the_background_then_answered(tmp_path: Path) -> None:
    corpus = tmp_path / "reports"
    shutil.copytree(BUNDLED_CORPUS, corpus)
    chat = chat_over(tmp_path / "index", FakeLLM(), tmp_path, corpus)
    chat.pipeline.reindex()
    chat.indexer = chat.pipeline.resources.background_indexer(chat.upload_dir, make=FakeEmbedder)
    report = tmp_path / "harbour.md"
    report.write_text("Harbour inspection in Port Aldeney\n\n"
                      "The inspection found 740 kg of undeclared saffron in Port Aldeney.\n")

    html, _, _, pending, _ = chat.upload([str(report)])
    assert (corpus / "harbour.md").exists() and pending is not None
    deadline = time.monotonic() + 30
    while pending is not None:
        assert time.monotonic() < deadline, "the upload was never indexed"
        time.sleep(0.05)
        html, listed, pending, _ = chat.index_progress(pending)
    assert "harbour.md" in html and "Harbour inspection in Port Aldeney" in listed
    markdown = chat.ask_markdown("How much saffron was found in Port Aldeney?")
    # The model copied the sentence: the quote is the whole answer, shown once.
    assert markdown.startswith("> “The inspection found 740 kg of undeclared saffron in Port Aldeney.” [1]\n\n"
                               "**Sources**")
    assert "[1] **harbour.md ¶2**" in markdown
