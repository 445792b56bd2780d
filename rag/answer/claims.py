"""The model's answer as typed claims: parsed once, then every post-processing pass edits the list.

A ``Claim`` is one sentence with the ``[n]`` markers written inside it. The passes in
``rag.answer.citations`` (drop bad markers, attribute, check support, renumber) and ``rag.answer.abstention``
replace claims in the list; ``render`` joins what survives. The final ``Answer.claims`` tell the
UI, sentence by sentence, whether the cited paragraph supports the claim and with which quote.
"""

from __future__ import annotations

import re

from rag.text import FUNCTION_WORDS, split_sentences, words
from rag.types import NUMBERED, Claim

# A sentence that only points at a source ("This is supported by source [1].") states nothing:
# it is dropped, so it can neither count as a claim nor lend its marker to the answer.
_FILLER_LEAD = re.compile(
    r"^(?:this|that|it|these|which)\s+(?:is|are|was|were|can be|could be|may be)\s+"
    r"(?:supported|seen|shown|confirmed|stated|mentioned|found|evidenced|indicated|noted|described|explained)\b"
    r"|^(?:as|this is)\s+(?:stated|mentioned|shown|seen|noted|described)\s+in\b",
    re.IGNORECASE)
# ... besides function words, the words such a sentence is made of.
_POINTING = frozenset("""can could may also text source sources passage passages document documents report
reports context information provided given above following supported seen shown confirmed stated mentioned found
evidenced indicated noted described explained states says said according support supports evidence""".split())  # noqa: SIM905


def is_filler(sentence: str) -> bool:
    """True for a sentence that only says a source supports something, with no claim of its own."""
    plain = NUMBERED.sub("", sentence).strip()
    if not plain:
        return True
    own = [w for w in words(plain) if w not in _POINTING and w not in FUNCTION_WORDS]
    return bool(_FILLER_LEAD.search(plain)) and len(own) < 4 or (bool(NUMBERED.search(sentence)) and not own)


def parse_claims(text: str, refusal: re.Pattern[str]) -> list[Claim]:
    """Split normalised answer text into claims, refusals (``refusal`` matches them) and fillers."""
    claims = []
    for sentence in split_sentences(text):
        if refusal.search(sentence):
            claims.append(Claim(NUMBERED.sub("", sentence).replace(" .", ".").strip(), "refusal"))
        elif is_filler(sentence):
            claims.append(Claim(sentence, "filler"))
        else:
            claims.append(Claim(sentence))
    return claims


def render(claims: list[Claim]) -> str:
    """The answer text: every claim and refusal, in order; fillers are left out."""
    return " ".join(c.text for c in claims if c.kind != "filler" and c.text).strip()
