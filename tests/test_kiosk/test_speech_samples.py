"""A site's own speech set for the accuracy benchmark, and the error rate it is scored by."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.errors import ModelError
from inference.speech.accuracy import error_rate, metric, normalise
from kiosk.rigs.speech_samples import speech_set


def test_a_site_set_is_read_from_refs_tsv(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "b.wav").write_bytes(b"RIFF")
    (tmp_path / "refs.tsv").write_text("# file\tlanguage\ttext\na.wav\tzh-CN\t我发现了问题\n"
                                       "\nb.wav\ten\tI told my team leader\n", "utf-8")
    clips = speech_set(tmp_path)
    assert [(c.path.name, c.language, c.text) for c in clips] == [
        ("a.wav", "zh-CN", "我发现了问题"), ("b.wav", "en", "I told my team leader")]


@pytest.mark.parametrize(("refs", "message"), [
    (None, "no refs.tsv"),
    ("a.wav\tzh-CN\n", r"refs.tsv:1: expected file, language and text"),
    ("missing.wav\ten\thello\n", r"refs.tsv:1: .*missing.wav does not exist"),
])
def test_a_bad_site_set_is_named(tmp_path: Path, refs: str | None, message: str) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    if refs is not None:
        (tmp_path / "refs.tsv").write_text(refs, "utf-8")
    with pytest.raises(ModelError, match=message):
        speech_set(tmp_path)


def test_error_rates_count_characters_for_chinese_and_words_for_english() -> None:
    assert metric("zh-CN") == "CER" and metric("ko") == "CER" and metric("en") == "WER"
    # Traditional, punctuation and width do not count as errors; one wrong character does
    assert error_rate(["我們發現問題。"], ["我们发现问题"], "zh-CN") == 0.0
    assert error_rate(["我们发现问题"], ["我们发现文题"], "zh-CN") == pytest.approx(1 / 6)
    assert error_rate(["Don't forget a jacket."], ["dont forget to jacket"], "en") == 0.25
    assert normalise("Hello, World!", "en") == "hello world"
    with pytest.raises(ValueError, match="one heard text per reference"):
        error_rate(["a"], [], "en")
