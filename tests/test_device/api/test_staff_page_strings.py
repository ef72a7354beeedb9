"""The staff page's words: every one in Mandarin, English and Korean, with the same fields."""

from __future__ import annotations

import string

from device.api.staff_page.strings import LANGUAGES, keys, t


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_string_is_given_in_each_language_with_the_same_fields() -> None:
    for key in keys():
        texts = {lang: t(key, lang) for lang in LANGUAGES}
        assert all(texts.values()), key
        assert len({frozenset(_fields(text)) for text in texts.values()}) == 1, key
        if key != "none":
            assert texts["zh-CN"] != texts["en"], f"{key} is not translated"
