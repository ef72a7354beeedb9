"""Whisper on the box: real model, real human speech in Mandarin and English.

Korean has no human recording in the registries; the Korean checks use espeak-ng's machine
voice and only assert what a machine voice can show (the backend serves the language and
says how well it understood).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from inference.content.delivery import competency_evidence
from inference.findings import Transcript
from inference.models.store import ModelFiles
from inference.speech.audio import read_wav
from inference.speech.chinese import to_simplified
from inference.speech.quality import (
    NO_SPEECH_REASON,
    NOT_ASSESSED_REASON,
    RELIABLE_QUALITY,
    unreliable_reason,
)
from inference.speech.recognizer import Speech
from inference.speech.whisper import WhisperRecognizer, WhisperSettings, WhisperStream, loop_start
from kiosk.rigs.samples import ModelPaths
from kiosk.rigs.speech_samples import Clip


@pytest.fixture(scope="module")
def speech(model_files: ModelPaths) -> Speech:
    s = Speech(ModelFiles.open(model_files.store).speech)
    s.preload("zh-CN")
    return s


def clip(clips: list[Clip], language: str, source: str) -> Clip:
    return next(c for c in clips if c.language == language and c.source.startswith(source))


def found(transcript: Transcript, *keywords: str) -> set[str]:
    evidence = competency_evidence(transcript, "c", keywords, ())
    return {m.phrase for m in evidence.keywords_found}


def test_whisper_serves_all_three_languages_by_default(speech: Speech) -> None:
    assert {speech.serving(lang) for lang in ("zh-CN", "en", "ko")} == {"zh-CN", "en", "ko"}
    assert {speech.ref(lang).name for lang in ("zh", "en", "ko")} == {"whisper-base"}
    assert isinstance(speech.recognizer("ko"), WhisperRecognizer)


def test_a_mandarin_answer_is_heard_in_simplified_characters(
    speech: Speech, human_speech: list[Clip]
) -> None:
    zh = clip(human_speech, "zh-CN", "f5-tts")
    transcript = speech.transcribe_file(zh.path, "zh-CN")
    assert transcript.text == to_simplified(transcript.text)  # no Traditional left
    assert found(transcript, "这就是我", "真人") == {"这就是我", "真人"}
    assert transcript.quality is not None and transcript.quality >= RELIABLE_QUALITY
    assert unreliable_reason(transcript) is None
    assert 0 <= transcript.words[0].start < transcript.words[-1].end <= transcript.duration_s


def test_an_english_answer_is_heard_with_its_keywords_and_times(
    speech: Speech, human_speech: list[Clip]
) -> None:
    en = next(c for c in human_speech if "dashwood" in c.text)
    transcript = speech.transcribe_file(en.path, "en")
    assert found(transcript, "Dashwood", "leisure", "power") == {"Dashwood", "leisure", "power"}
    assert transcript.quality is not None and transcript.quality >= RELIABLE_QUALITY
    power = next(w for w in transcript.words if "power" in w.text.lower())
    assert 4.0 < power.start < transcript.duration_s  # said near the end of the 7 s clip


def test_streaming_in_small_blocks_gives_the_one_shot_words(
    speech: Speech, human_speech: list[Clip]
) -> None:
    long = [c for c in human_speech if c.source == "LibriVox"]
    audio = [read_wav(c.path) for c in long]
    rate = audio[0].sample_rate
    gap = np.zeros(rate, dtype=np.int16)
    answer = np.concatenate([np.concatenate([a.samples, gap]) for a in audio])  # 30 s
    one_shot = speech.transcribe(answer, rate, "en")
    stream = speech.stream("en")
    decoded_before_the_end = 0
    for i in range(0, len(answer), rate // 20):
        stream.feed(answer[i:i + rate // 20], rate)
        decoded_before_the_end = len(stream.words)
    streamed = stream.finish()
    assert [w.text for w in streamed.words] == [w.text for w in one_shot.words]
    # most of the answer was decoded while it was spoken: finish() had only the tail left
    assert decoded_before_the_end > len(streamed.words) / 2


def test_silence_and_noise_are_not_heard_as_words(speech: Speech) -> None:
    silence = speech.transcribe(np.zeros(16000 * 4, dtype=np.int16), 16000, "en")
    assert silence.silent and silence.words == () and silence.quality is None
    assert unreliable_reason(silence) == NO_SPEECH_REASON
    hum = np.random.default_rng(3).standard_normal(16000 * 6) * 2000
    noisy = speech.transcribe(hum.astype(np.int16), 16000, "zh-CN")
    assert unreliable_reason(noisy) is not None  # not assessed, never a score from noise


def test_speech_that_is_not_understood_is_marked_not_assessed(speech: Speech,
                                                              tmp_path: Path) -> None:
    """espeak-ng's Korean is heard poorly by Whisper; its quality says so."""
    wav = tmp_path / "ko.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "120", "-w", str(wav),
                    "팀워크가 중요합니다. 문제가 생기면 반장에게 보고합니다."], check=True)
    transcript = speech.transcribe_file(wav, "ko")
    assert not transcript.silent and transcript.quality is not None
    assert transcript.quality < RELIABLE_QUALITY
    assert unreliable_reason(transcript) == NOT_ASSESSED_REASON


def test_traditional_characters_from_the_decoder_become_simplified() -> None:
    """A stand-in decoder that answers in Traditional characters, as Whisper does about
    half the time for Mandarin: the transcript is Simplified, times offset by the chunk."""

    class Traditional:
        def transcribe(self, pcm: object, **options: object) -> tuple[list[object], None]:
            word = SimpleNamespace(word="發現品質問題", start=0.5, end=1.5, probability=0.9)
            return [SimpleNamespace(start=0.0, end=2.0, avg_logprob=-0.2,
                                    compression_ratio=1.1, words=[word])], None

    stream = WhisperStream(Traditional(), "zh-CN", None, WhisperSettings())
    t = np.arange(16000 * 3) / 16000
    syllables = np.random.default_rng(1).standard_normal(len(t)) * (1 + np.sin(8 * np.pi * t))
    stream.feed((syllables * 4000).astype(np.int16), 16000)
    transcript = stream.finish()
    assert transcript.text == "发现品质问题" and transcript.words[0].start == 0.5
    assert transcript.quality == pytest.approx(np.exp(-0.2), abs=1e-3)


def test_a_decoder_loop_is_cut_and_counts_as_not_understood() -> None:
    """Whisper can loop on speech it hears badly ("交接交接交接…"): one copy is kept, and the
    segment's quality is 0, so the answer's content is not assessed on invented words."""

    class Looping:
        def transcribe(self, pcm: object, **options: object) -> tuple[list[object], None]:
            words = [SimpleNamespace(word=w, start=i * 0.2, end=i * 0.2 + 0.2, probability=0.9)
                     for i, w in enumerate(["我", "记录", "数量", *["交接"] * 4])]
            return [SimpleNamespace(start=0.0, end=2.0, avg_logprob=-0.1,
                                    compression_ratio=1.2, words=words)], None

    stream = WhisperStream(Looping(), "zh-CN", None, WhisperSettings())
    t = np.arange(16000 * 3) / 16000
    syllables = np.random.default_rng(2).standard_normal(len(t)) * (1 + np.sin(8 * np.pi * t))
    stream.feed((syllables * 4000).astype(np.int16), 16000)
    transcript = stream.finish()
    assert transcript.text == "我记录数量交接" and transcript.quality == 0.0
    assert unreliable_reason(transcript) == NOT_ASSESSED_REASON
    assert loop_start(["very", "very", "very", "good"]) is None  # said, not a loop
    assert loop_start(["a", "b", "a", "b", "a", "b"]) == 2


def test_the_prompt_written_back_is_not_taken_for_speech(speech: Speech,
                                                          tmp_path: Path) -> None:
    """On espeak-ng's Mandarin Whisper writes its own prompt back ("以下是普通话的句子"):
    those words are not what was said, so they are dropped and count as not understood."""
    wav = tmp_path / "zh.wav"
    subprocess.run(["espeak-ng", "-v", "cmn", "-w", str(wav),
                    "我发现了不良，马上停线并报告了班长。"], check=True)
    transcript = speech.transcribe_file(wav, "zh-CN")
    assert "普通话" not in transcript.text and not transcript.silent
    assert transcript.quality is not None and transcript.quality < RELIABLE_QUALITY
    assert unreliable_reason(transcript) == NOT_ASSESSED_REASON


def test_kiosk_transcribe_prints_one_json_line_per_file(
    model_files: ModelPaths, human_speech: list[Clip], tmp_path: Path
) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[analysis]\nmodels_dir = "{model_files.store.root}"\n')
    zh = clip(human_speech, "zh-CN", "f5-tts")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt nothing")
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "--config", str(config), "transcribe", "--json",
         "--language", "zh-CN", str(zh.path), str(broken)],
        capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 1, result.stderr  # one file failed, the other was done
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["file"] == str(zh.path) and first["language"] == "zh-CN"
    assert "真人" in first["text"] and first["quality"] >= RELIABLE_QUALITY
    assert first["audio_s"] == pytest.approx(6.76, abs=0.05) and first["decode_s"] > 0
    assert first["words"][0]["start"] >= 0 and first["model"]["name"] == "whisper-base"
    assert second["file"] == str(broken) and "error" in second
    missing = subprocess.run(
        [sys.executable, "-m", "kiosk", "--config", str(config), "transcribe",
         str(tmp_path / "nope.wav")], capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode != 0 and "nope.wav" in missing.stderr
