"""Read the reviewer's page back: its tables, competency sections, answers and the sentences in
them, per language, so tests can compare each sentence's numbers with the numbers beside it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

from inference.findings import Language

TAG = re.compile(r"<[^>]+>")


def text(fragment: str) -> str:
    """The visible text of an HTML fragment."""
    return unescape(TAG.sub("", fragment))


def section(page: str, opening: str, closing: str) -> str:
    found = re.search(re.escape(opening) + r".*?" + re.escape(closing), page, re.S)
    assert found is not None, opening
    return found.group(0)


def rows(table_html: str) -> list[list[str]]:
    """The body rows of a table, each as its cells' text (the row header first)."""
    body = table_html.split("<tbody>", 1)[1]
    return [
        [text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def tables(fragment: str) -> list[str]:
    return re.findall(r"<table.*?</table>", fragment, re.S)


@dataclass(frozen=True)
class Competency:
    heading: str
    line: str
    metrics: dict[str, tuple[str, str, str]]
    """Metric name (lower case) -> (value, counted, detail)."""


def competency(page: str, n: int) -> Competency:
    html = section(page, f'<section class="competency" id="competency-{n}"', "</section>")
    heading = text(re.search(r"<h3[^>]*>(.*?)</h3>", html, re.S).group(1))  # type: ignore[union-attr]
    line = text(re.search(r"</h3><p>(.*?)</p>", html, re.S).group(1))  # type: ignore[union-attr]
    metrics = {r[0].casefold(): (r[1], r[2], r[3]) for r in rows(tables(html)[0])}
    return Competency(heading, line, metrics)


def score_rows(page: str) -> list[list[str]]:
    return rows(section(page, '<table class="scores">', "</table>"))


def answer(page: str, n: int) -> str:
    return section(page, f'<article class="item" aria-labelledby="question-{n}-h">', "</article>")


# --- sentences, per language ------------------------------------------------------------------

KEYWORDS: dict[Language, re.Pattern[str]] = {
    "en": re.compile(
        r"named (?P<found>\d+) of (?P<expected>\d+) expected terms"
        r"(?: and (?P<syn>\d+) related words)?: keyword coverage (?P<pct>\d+)%",
        re.I,
    ),
    "zh-CN": re.compile(
        r"提到了 (?P<expected>\d+) 个关键词中的 (?P<found>\d+) 个"
        r"(?:，另有 (?P<syn>\d+) 个近义说法)?，关键词覆盖 (?P<pct>\d+)%"
    ),
    "ko": re.compile(
        r"기대 키워드 (?P<expected>\d+)개 중 (?P<found>\d+)개 언급"
        r"(?:, 유사 표현 (?P<syn>\d+)개)?, 키워드 포함도 (?P<pct>\d+)%"
    ),
}

STRUCTURE: dict[Language, re.Pattern[str]] = {
    "en": re.compile(
        r"answer structure (?P<pct>\d+)% \((?:(?:(?P<covered>\d) of 4 STAR elements, )?"
        r"(?P<order>told in STAR order|not told in STAR order)"
        r"|(?P<few>fewer than 2 of 4 STAR elements, so no order to judge))\)",
        re.I,
    ),
    "zh-CN": re.compile(
        r"回答结构 (?P<pct>\d+)%（(?:(?:讲到 STAR 四要素中的 (?P<covered>\d) 个，)?"
        r"(?P<order>按 STAR 顺序讲述|未按 STAR 顺序讲述)"
        r"|(?P<few>讲到的 STAR 要素少于 2 个，无法判断顺序))）"
    ),
    "ko": re.compile(
        r"답변 구성 (?P<pct>\d+)% \((?:(?:STAR 4요소 중 (?P<covered>\d)개, )?"
        r"(?P<order>STAR 순서대로 말함|STAR 순서대로 말하지 않음)"
        r"|(?P<few>STAR 요소가 2개 미만이라 순서를 판단할 수 없음))\)"
    ),
}
IN_ORDER: dict[Language, str] = {
    "en": "told in STAR order",
    "zh-CN": "按 STAR 顺序讲述",
    "ko": "STAR 순서대로 말함",
}

BASIS: dict[Language, re.Pattern[str]] = {
    "en": re.compile(r"score from the mean of the marks for (?P<parts>.+?) = (?P<marks>\d+)/100"),
    "zh-CN": re.compile(r"得分取各指标得分的平均值：(?P<parts>.+?)，平均 (?P<marks>\d+)/100"),
    "ko": re.compile(r"점수는 지표 점수의 평균: (?P<parts>.+?), 평균 (?P<marks>\d+)/100"),
}
PART_SEP: dict[Language, str] = {"en": ", ", "zh-CN": "、", "ko": ", "}


def basis_parts(parts: str, lang: Language) -> list[tuple[str, int]]:
    """The metrics and their marks (of 100) a score's basis lists."""
    out = []
    for part in parts.split(PART_SEP[lang]):
        found = re.fullmatch(r"(.+) (\d+)/100", part)
        assert found is not None, part
        out.append((found.group(1).casefold(), int(found.group(2))))
    return out
