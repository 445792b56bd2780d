"""A question in another language over the fakes: its language is found, it is searched and checked in English,
and it is answered and refused in its own language while the evidence stays as the reports write it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rag.answer.citations import Resolved
from rag.llm.base import LLM
from rag.pipeline import Pipeline
from rag.query.language import language_name, question_language
from rag.query.rewrite import RewrittenQuestion
from rag.query.translation import english_question, translation_flaw, translation_problem
from rag.settings import BUNDLED_CORPUS, PromptSettings, Settings
from rag.settings.refusals import REFUSALS
from rag.types import Message
from tests.conftest import SENTINEL, SENTINEL_QUESTION, sections_over
from tests.fakes import PROMPTS, FakeEmbedder, FakeLLM, answer_citing

SPANISH = "¿Qué incautó la Operación Sentinel?"
POOR = "Who was the person who incautated the Operation Sentinel?"  # what the 1.5B model once made of it
WRITTEN = "La Operación Sentinel logró más de 100 incautaciones de drogas."
ARRESTS = "¿Cuántas personas fueron arrestadas por la policía en la Operación Sentinel?"
ARRESTS_EN = "How many people were arrested by the police in Operation Sentinel?"


@pytest.mark.parametrize(("question", "language"), [
    (SENTINEL_QUESTION, "en"), ("Operation Sentinel seizures", "en"), ("2009?", "en"), ("What does 海关 mean?", "en"),
    (SPANISH, "es"), ("Qui était Secrétaire général de l'OMD avant Kunio Mikuriya ?", "fr"),
    ("Что было изъято в ходе операции «Sentinel»?", "ru"), ("Was wurde bei der Operation Sentinel beschlagnahmt?", "de"),
    ("Kunio Mikuriya 何时就任世界海关组织秘书长？", "zh"),  # a Latin name in it: still Chinese
    ("有多少个海关机构参与了Sentinel行动？", "zh"),  # py3langid: Wu Chinese, written in the same characters
])
def test_the_question_language_is_found(question: str, language: str) -> None:
    assert question_language(question) == language
    assert (language_name(language) is None) == (language == "en")


def test_a_translation_must_be_an_english_question_with_the_names_and_numbers_asked() -> None:
    asked = "Частью какого министерства США является Бюро таможенной и пограничной охраны?"
    assert translation_problem(asked, "Department of Homeland Security") == "not a question"  # it answered
    assert translation_problem(asked, "Частью какого министерства?") == "not English"
    assert translation_problem(asked, "Which US department is the Bureau of Customs part of?") is None
    assert translation_flaw("Когда Кунио Микурия вступил в должность?", "When did Kunio Miкуriya take office?")
    assert translation_flaw("¿Qué pasó en 2009?", "What happened in that year?") == "2009 is left out"
    assert translation_flaw("¿Qué pasó en 2009?", "What happened in 2009?") is None


def _translating(*replies: str) -> Any:
    """A script: the translation prompts get ``replies`` in turn (the last one again once they run out), everything
    else the fake's default."""
    left = list(replies)

    def reply(messages: list[Message]) -> str | None:
        if messages[0]["content"] in (PROMPTS.translate_system, PROMPTS.translate_again_system):
            return left.pop(0) if len(left) > 1 else left[0]
        return None

    return reply


def test_a_doubtful_translation_is_asked_again_by_the_second_prompt() -> None:
    right = "What did Operation Sentinel seize in 2009?"
    llm = FakeLLM(_translating("Who was arrested in 2008?", right))  # the year left out, then right
    assert english_question(_as_llm(llm), "¿Qué incautó la Operación Sentinel en 2009?", 64, PROMPTS) == right
    assert [c.system for c in llm.calls] == [PROMPTS.translate_system, PROMPTS.translate_again_system]
    both_bad = FakeLLM(_translating("Seizures.", "¿Qué?"))
    assert english_question(_as_llm(both_bad), SPANISH, 64, PROMPTS) == SPANISH  # searched as asked


def _as_llm(fake: FakeLLM) -> LLM:
    return fake


def _pipeline(index_dir: Path, llm: FakeLLM, **sections: Any) -> Pipeline:
    settings = Settings(**sections_over({"index": {"corpus_dir": BUNDLED_CORPUS, "index_dir": index_dir}}, sections))
    return Pipeline(settings, embedder=FakeEmbedder(), llm=llm)


class _writer:
    """A script: translations in turn, the sentence holding ``fragment`` chosen, then ``written`` for the writing."""

    def __init__(self, translations: list[str], written: str, fragment: str = "100 seizures") -> None:
        self.translate, self.written, self.fragment = _translating(*translations), written, fragment

    def __call__(self, messages: list[Message]) -> str | None:
        if messages[-1]["content"].startswith("The sentences you chose:"):
            return self.written
        return self.translate(messages)

    def choose(self, messages: list[Message], options: list[str]) -> list[str]:
        return answer_citing(self.fragment, "").choose(messages, options)


def test_another_language_is_searched_in_english_and_answered_in_it(fake_index_dir: Path) -> None:
    llm = FakeLLM(_writer([SENTINEL_QUESTION], WRITTEN))
    answer = _pipeline(fake_index_dir, llm).ask(SPANISH)

    translating, again, writing = llm.calls  # two prompts translate; both said the same
    assert translating.user == again.user == SPANISH and answer.search_question == SENTINEL_QUESTION
    [(choosing, _, _)] = llm.choose_calls
    assert choosing[1]["content"].endswith(f"Question: {SENTINEL_QUESTION}")  # the evidence is chosen in English
    assert writing.user.endswith("Do not add ids or source numbers.\nWrite the answer in Spanish.")
    assert answer.language == "es" and not answer.refused
    assert answer.text == f"{WRITTEN.rstrip('.')} [1]."  # written in Spanish, citing the evidence
    assert answer.citations[0].key == SENTINEL and "100 seizures" in answer.citations[0].quote  # the English words
    assert answer.to_dict()["language"] == "es"


def test_an_english_question_is_written_from_an_unchanged_prompt(fake_index_dir: Path) -> None:
    quiet = FakeLLM()
    english = _pipeline(fake_index_dir, quiet).ask(SENTINEL_QUESTION)
    assert quiet.calls == [] and english.language == "en"  # nothing is written, as before
    assert "language" not in english.to_dict()
    llm = FakeLLM()
    _pipeline(fake_index_dir, llm, citations={"write_answer": True}).ask(SENTINEL_QUESTION)
    [writing] = llm.calls
    assert writing.user.endswith("Do not add ids or source numbers.")  # no language line
    off = FakeLLM(_writer([SENTINEL_QUESTION], WRITTEN))
    answer = _pipeline(fake_index_dir, off, citations={"write_other_languages": False}).ask(SPANISH)
    assert len(off.calls) == 2 and "100 seizures" in answer.text  # only translated: the evidence is the answer


def test_a_written_number_the_evidence_lacks_is_dropped(fake_index_dir: Path) -> None:
    llm = FakeLLM(_writer([SENTINEL_QUESTION], "La Operación Sentinel logró 900 incautaciones."))
    answer = _pipeline(fake_index_dir, llm).ask(SPANISH)
    assert not answer.refused and "900" not in answer.text and "100 seizures" in answer.text  # the quote instead


def test_the_translation_whose_terms_the_paragraphs_found_hold_is_searched(fake_index_dir: Path) -> None:
    llm = FakeLLM(_writer([POOR, SENTINEL_QUESTION], WRITTEN))
    answer = _pipeline(fake_index_dir, llm).ask(SPANISH)
    assert [c.system for c in llm.calls[:2]] == [PROMPTS.translate_system, PROMPTS.translate_again_system]
    assert answer.search_question == SENTINEL_QUESTION  # "person" and "incautated" are in no paragraph found
    assert llm.choose_calls[0][0][1]["content"].endswith(SENTINEL_QUESTION)
    assert not answer.refused and answer.citations[0].key == SENTINEL
    kept = FakeLLM(_writer([SENTINEL_QUESTION, POOR], WRITTEN))
    assert _pipeline(fake_index_dir, kept).ask(SPANISH).search_question == SENTINEL_QUESTION  # the first on a tie


def test_a_translated_question_is_refused_only_when_its_other_translation_is_too(fake_index_dir: Path) -> None:
    pipeline = _pipeline(fake_index_dir, FakeLLM(_writer([SENTINEL_QUESTION], WRITTEN)))
    answer = pipeline.ask(SPANISH)
    resolved = Resolved(answer.text, answer.citations, False, 0, 0, claims=answer.claims)
    spanish = PromptSettings().for_language("es")

    def verify(*renderings: str) -> Resolved:
        rewritten = RewrittenQuestion(SPANISH, SPANISH, renderings[0], "es", renderings)
        return pipeline._verify(resolved, rewritten, answer.sources, lambda: None, spanish, True)[0]

    poorer = POOR.replace("?", " in the harbour?")
    alone = verify(poorer)  # its terms alone: "person", "incautated" and "harbour" are not in the evidence
    assert alone.refused and '"person", "incautated" o "harbour"' in alone.text and "incautó" not in alone.text
    assert not verify(poorer, SENTINEL_QUESTION).refused  # the second opinion: the evidence answers it
    assert not verify(POOR).refused  # 2 of its 4 terms: a translation is held to 0.8 of min_coverage (0.48)
    english = pipeline.verifier.run(resolved, POOR, answer.sources, lambda: None)[0]
    assert english.refused  # the same terms asked in English are held to min_coverage (0.6)


def test_a_trap_is_refused_in_the_question_language_on_the_english_terms(fake_index_dir: Path) -> None:
    llm = FakeLLM(_writer([ARRESTS_EN, "How many people did the police arrest in Operation Sentinel?"],
                          "Más de 100 personas."))
    answer = _pipeline(fake_index_dir, llm).ask(ARRESTS)
    assert answer.refused and answer.language == "es"
    assert answer.text.startswith('Los informes no responden a esto: no mencionan "people", "arrested" o "police"')
    assert "arrestadas" not in answer.text and "policía" not in answer.text
    assert len([c for c in llm.calls if c.system == PROMPTS.translate_again_system]) == 1  # the second opinion


def test_a_question_without_evidence_is_refused_in_its_language(fake_index_dir: Path) -> None:
    llm = FakeLLM(_translating(SENTINEL_QUESTION), refuse=True)  # the model chooses no sentence
    answer = _pipeline(fake_index_dir, llm).ask(SPANISH)
    assert answer.refused and answer.text.startswith(REFUSALS["es"]["refusal"])
    write_first = _pipeline(fake_index_dir, FakeLLM(_translating(SENTINEL_QUESTION), refuse=True),
                            preset="write-first").ask(SPANISH)
    assert write_first.language == "en" and write_first.text.startswith(PROMPTS.refusal)  # write-first: English


def test_refusal_texts_by_language_are_checked_templates() -> None:
    assert PromptSettings().for_language("en") == PromptSettings()
    assert PromptSettings().for_language("ja") == PromptSettings()  # not listed: refused in English
    german = PromptSettings().for_language("de")
    assert german.refusal == REFUSALS["de"]["refusal"] and german.answer_system == PROMPTS.answer_system
    with pytest.raises(ValidationError, match="es.refusal_not_mentioned: must contain {terms}"):
        PromptSettings(refusals_by_language={"es": {"refusal_not_mentioned": "No lo mencionan."}})
    with pytest.raises(ValidationError, match="answer_system is not a refusal text"):
        PromptSettings(refusals_by_language={"es": {"answer_system": "Responde."}})
    with pytest.raises(ValidationError, match="must contain {language}"):
        PromptSettings(answer_language="Answer in Spanish.")
