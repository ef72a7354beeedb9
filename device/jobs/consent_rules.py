"""The consent texts never state their own retention period.

How long recordings, transcripts and reports are kept is ``consent.retention_days``: the
touchscreen and the candidate's receipt state it from there, and the box purges at that
age (:mod:`device.ops.retention`). A period written into a free text could disagree with
it, so a package whose consent texts state one is refused at import, naming the field.

A period is a number (digits, Chinese numerals or an English number word) followed by a
unit of time (days, weeks, months, years; 天, 日, 周, 个月, 年; 일, 주, 개월, 년), in a
sentence that speaks of keeping or deleting (kept, stored, deleted; 保存, 删除; 보관,
삭제). "We reply within 15 working days" is not a retention period and passes.

The rule runs when a package is parsed for import (:func:`device.jobs.package.parse_package`),
not when an installed package is read back, so a package installed earlier stays usable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from device.jobs.document import JobPackage
from device.jobs.models import LocalizedText

_NUMBER = (r"(?:\d+(?:[.,]\d+)?|[０-９]+|[一二两三四五六七八九十百千半]+|"
           r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
           r"eighteen|twenty|thirty|sixty|ninety|hundred|a|an)\b)")
_UNIT = (r"(?:(?:calendar\s+)?(?:days?|weeks?|months?|years?)\b|"
         r"个?(?:天|日|周|星期|礼拜|月|年)|(?:일|주|개월|달|년))")
PERIOD = re.compile(_NUMBER + r"\s*(?:-|\s)?\s*" + _UNIT, re.IGNORECASE)
#: Words that make a sentence about keeping or deleting data.
KEEPING = re.compile(
    r"\b(?:kept|keep|keeps|retain\w*|retention|stored?|storing|delet\w+|eras\w+|"
    r"destroy\w*|purg\w+|remov\w+)\b|保存|保留|存储|储存|删除|销毁|清除|"
    r"보관|보존|저장|삭제|파기", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?。！？;；\n]+")


def _consent_texts(package: JobPackage) -> Iterator[tuple[str, LocalizedText]]:
    consent = package.consent
    yield "consent.text", consent.text
    yield "consent.shared_with_central", consent.shared_with_central
    yield "consent.expression_analysis", consent.expression_analysis
    yield "consent.deletion_contact", consent.deletion_contact


def stated_period(text: str) -> str | None:
    """The retention period a text states (as written), or None when it states none."""
    for sentence in _SENTENCE.findall(text):
        if not KEEPING.search(sentence):
            continue
        found = PERIOD.search(sentence)
        if found is not None:
            return found.group(0).strip()
    return None


def retention_period_problems(package: JobPackage) -> list[str]:
    """One ``"path: message"`` per consent text (field and language) stating a period."""
    problems = []
    days = package.consent.retention_days
    for path, texts in _consent_texts(package):
        for language, text in texts.items():
            period = stated_period(text)
            if period is not None:
                problems.append(
                    f"{path}.{language}: states its own retention period ('{period}'); the"
                    f" period comes from consent.retention_days ({days} days), which the"
                    " touchscreen and the receipt show beside this text and the box keeps:"
                    " remove the period from the text")
    return problems
