"""How far a transcript is from what was said: character or word error rate.

Mandarin and Korean are compared character by character (CER), English word by word (WER),
after the same normalisation on both sides: NFKC, case, punctuation, and Simplified
characters for Chinese, so that only what was heard differently counts. The edit distance
is jiwer's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import jiwer

from inference.speech.chinese import to_simplified


def by_characters(language: str) -> bool:
    return language.lower().startswith(("zh", "ko", "ja"))


def metric(language: str) -> str:
    """'CER' or 'WER', as :func:`error_rate` counts for ``language``."""
    return "CER" if by_characters(language) else "WER"


def normalise(text: str, language: str) -> str:
    """The units compared, separated by single spaces (characters for zh/ko, else words)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if language.lower().startswith("zh"):
        text = to_simplified(text)
    text = re.sub(r"[^\w\s']|_", " ", text).replace("'", "")
    if by_characters(language):
        return " ".join("".join(text.split()))
    return " ".join(text.split())


def error_rate(references: Sequence[str], heard: Sequence[str], language: str) -> float:
    """Errors (substitutions, deletions, insertions) per reference unit, over all pairs."""
    if len(references) != len(heard):
        raise ValueError("error_rate needs one heard text per reference")
    refs = [normalise(t, language) for t in references]
    if not any(refs):
        raise ValueError("error_rate needs a reference with something in it")
    hyps = [normalise(t, language) for t in heard]
    pairs = [(r, h) for r, h in zip(refs, hyps, strict=True) if r]
    return float(jiwer.wer([r for r, _ in pairs], [h for _, h in pairs]))
