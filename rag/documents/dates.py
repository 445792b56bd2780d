"""Find a calendar date in free text, in the forms reports use ("02 February 2009",
"January 21, 2008", "27 octubre 2009", "2009-10-27").

Month names cover English, Spanish, French and Russian (genitive), the languages the
bundled reports mix. Returns ISO ``yyyy-mm-dd`` or None.

Kept hand-written: dateparser (1.5) was tried in its place (issue 12) and lost a bundled report's
date. ``search_dates`` with ``REQUIRE_PARTS`` day/month/year, ``STRICT_PARSING``, only the
``absolute-time`` parser and languages en/es/fr/ru finds no date in "On January 11, 2006 a meeting
was held ..." (it splits it into "On January 11" and "2006 a"), so report 003 loses its date
(2006-01-11 -> None; the other four reports and the SQuAD article keep theirs); with
``languages=["en"]`` report 002 also moves from "27 octubre 2009" to 2009-10-21. Without the strict
settings it dates ordinary words: "2006 a", and "On January 11" in the current year (reports 002, 003
and the SQuAD article get 2026 dates). It would also add about 0.2 s of imports, plus its language
data on the first search.
"""

from __future__ import annotations

import re
from datetime import date

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "january enero janvier января",
        "february febrero février fevrier февраля",
        "march marzo mars марта",
        "april abril avril апреля",
        "may mayo mai мая",
        "june junio juin июня",
        "july julio juillet июля",
        "august agosto août aout августа",
        "september septiembre setiembre septembre сентября",
        "october octubre octobre октября",
        "november noviembre novembre ноября",
        "december diciembre décembre decembre декабря",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _number
        if len(_name) > 3 and _name.isascii():
            _MONTHS.setdefault(_name[:3], _number)  # "Jan", "Sept" style abbreviations
_MONTHS["sept"] = 9

_MONTH = r"(?P<month>[^\W\d_]{3,11})\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?(?:\s*[-–]\s*\d{1,2})?"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_PATTERNS = [
    re.compile(rf"\b(?P<iso>{_YEAR}-(?P<m>\d{{2}})-(?P<d>\d{{2}}))\b"),
    re.compile(rf"\b{_DAY}\s+(?:de\s+)?{_MONTH}\s+(?:de\s+)?{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE),
]


def _valid(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def find_date(text: str) -> str | None:
    """The earliest-positioned date in ``text`` that is a real calendar date."""
    found: list[tuple[int, str]] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            groups = match.groupdict()
            if groups.get("iso"):
                iso = _valid(int(groups["year"]), int(groups["m"]), int(groups["d"]))
            else:
                month = _MONTHS.get(groups["month"].lower())
                iso = _valid(int(groups["year"]), month, int(groups["day"])) if month else None
            if iso:
                found.append((match.start(), iso))
                break
    return min(found)[1] if found else None
