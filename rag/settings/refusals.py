"""The refusal texts in other languages: the defaults of ``prompts.refusals_by_language``.

A question in another language is answered in it, and refused in it. A refusal is the pipeline's own text
(``rag.answer.abstention``), not the model's, so it is written here once per language rather than translated by
a 1.5B model at every refusal. The terms it says are not mentioned, and the passage it quotes, stay as the
English reports write them. A language not listed here is refused in English.
"""

from __future__ import annotations

# The fields of ``PromptSettings`` a language may replace.
REFUSAL_FIELDS = ("refusal", "refusal_with_closest", "refusal_not_mentioned", "refusal_not_stated",
                  "refusal_partial", "refusal_or")

REFUSALS: dict[str, dict[str, str]] = {
    "de": {
        "refusal": "Ich kann die Antwort in den Berichten nicht finden.",
        "refusal_with_closest": "{refusal} Die nächstliegende Stelle lautet: „{quote}“ [1].",
        "refusal_not_mentioned": "Die Berichte beantworten dies nicht: Sie erwähnen {terms} in diesem Zusammenhang "
                                 "nicht.",
        "refusal_not_stated": "Die Berichte beantworten dies nicht: Die gefundenen Stellen nennen nicht, wonach "
                              "gefragt ist.",
        "refusal_partial": "Die Berichte beantworten dies nicht: Die gefundenen Stellen decken nur einen Teil der "
                           "Frage ab.",
        "refusal_or": " oder ",
    },
    "es": {
        "refusal": "No encuentro la respuesta en los informes.",
        "refusal_with_closest": "{refusal} El pasaje más cercano dice: \"{quote}\" [1].",
        "refusal_not_mentioned": "Los informes no responden a esto: no mencionan {terms} en relación con ello.",
        "refusal_not_stated": "Los informes no responden a esto: los pasajes encontrados no indican lo que se "
                              "pregunta.",
        "refusal_partial": "Los informes no responden a esto: los pasajes encontrados solo cubren una parte de la "
                           "pregunta.",
        "refusal_or": " o ",
    },
    "fr": {
        "refusal": "Je ne trouve pas la réponse dans les rapports.",
        "refusal_with_closest": "{refusal} Le passage le plus proche dit : « {quote} » [1].",
        "refusal_not_mentioned": "Les rapports ne répondent pas à cette question : ils ne mentionnent pas {terms} "
                                 "à ce sujet.",
        "refusal_not_stated": "Les rapports ne répondent pas à cette question : les passages trouvés ne précisent "
                              "pas ce qui est demandé.",
        "refusal_partial": "Les rapports ne répondent pas à cette question : les passages trouvés n'en couvrent "
                           "qu'une partie.",
        "refusal_or": " ou ",
    },
    "it": {
        "refusal": "Non trovo la risposta nei rapporti.",
        "refusal_with_closest": "{refusal} Il passaggio più vicino dice: \"{quote}\" [1].",
        "refusal_not_mentioned": "I rapporti non rispondono a questo: non menzionano {terms} in relazione a ciò.",
        "refusal_not_stated": "I rapporti non rispondono a questo: i passaggi trovati non indicano ciò che viene "
                              "chiesto.",
        "refusal_partial": "I rapporti non rispondono a questo: i passaggi trovati coprono solo una parte della "
                           "domanda.",
        "refusal_or": " o ",
    },
    "pt": {
        "refusal": "Não encontro a resposta nos relatórios.",
        "refusal_with_closest": "{refusal} O trecho mais próximo diz: \"{quote}\" [1].",
        "refusal_not_mentioned": "Os relatórios não respondem a isto: não mencionam {terms} em relação a isso.",
        "refusal_not_stated": "Os relatórios não respondem a isto: os trechos encontrados não indicam o que se "
                              "pergunta.",
        "refusal_partial": "Os relatórios não respondem a isto: os trechos encontrados cobrem apenas parte da "
                           "pergunta.",
        "refusal_or": " ou ",
    },
    "ru": {
        "refusal": "Я не могу найти ответ в отчётах.",
        "refusal_with_closest": "{refusal} Ближайший фрагмент гласит: «{quote}» [1].",
        "refusal_not_mentioned": "Отчёты не отвечают на этот вопрос: в них ничего не сказано о {terms} в связи с "
                                 "этим.",
        "refusal_not_stated": "Отчёты не отвечают на этот вопрос: в найденных фрагментах не указано то, о чём "
                              "спрашивается.",
        "refusal_partial": "Отчёты не отвечают на этот вопрос: найденные фрагменты охватывают лишь часть вопроса.",
        "refusal_or": " или ",
    },
    "zh": {
        "refusal": "我在报告中找不到答案。",
        "refusal_with_closest": "{refusal}最接近的段落写道：“{quote}” [1]。",
        "refusal_not_mentioned": "报告没有回答这个问题：其中没有提到与此相关的{terms}。",
        "refusal_not_stated": "报告没有回答这个问题：找到的段落没有说明所问的内容。",
        "refusal_partial": "报告没有回答这个问题：找到的段落只涉及问题的一部分。",
        "refusal_or": "或",
    },
}
