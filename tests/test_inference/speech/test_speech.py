"""Speech recognition mechanics on real audio with the real Korean vosk model.

espeak-ng's Korean is not recognised as the words it says (the small model hears other
words), so these tests check mechanics: the same words however the audio arrives,
timestamps inside the audio, silence, resampling, errors and the shared model.
"""

from __future__ import annotations

import difflib
import subprocess
import threading
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from inference.errors import ModelError, UnknownLanguage
from inference.findings import Transcript, Word
from inference.speech.audio import AudioError, read_wav, resample
from inference.speech.vosk import (
    MODELS,
    ModelCache,
    SpeechError,
    SpeechRecognizer,
    transcribe_file,
)
from kiosk.rigs.samples import ModelPaths

SENTENCE = "그때 불량을 발견해서 바로 반장에게 보고했습니다."  # about 4 s
SHORT = "불량을 발견해서 보고했습니다."  # about 3 s


@pytest.fixture(scope="module")
def recognizer(model_files: ModelPaths) -> SpeechRecognizer:
    ref = model_files.store.get("vosk-model-small-ko").ref()
    rec = SpeechRecognizer({"ko": model_files.vosk_ko}, refs={"ko": ref})
    rec.preload()
    return rec


@pytest.fixture(scope="module")
def korean_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "answer.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(path), SENTENCE], check=True)
    return path


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "short.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(path), SHORT], check=True)
    return path


@pytest.fixture(scope="module")
def short_shot(recognizer: SpeechRecognizer, short_wav: Path) -> Transcript:
    return recognizer.transcribe_file(short_wav, "ko")


@pytest.fixture(scope="module")
def one_shot(recognizer: SpeechRecognizer, korean_wav: Path) -> Transcript:
    return recognizer.transcribe_file(korean_wav, "ko")


def write_wav(path: Path, samples: npt.NDArray[np.int16], rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def stream_in_chunks(
    recognizer: SpeechRecognizer, samples: npt.NDArray[np.int16], rate: int, seed: int = 1
) -> tuple[Transcript, list[str]]:
    """Feed like a capture loop: chunks of 0.1-0.5 s, as bytes."""
    rng = np.random.default_rng(seed)
    stream = recognizer.stream("ko")
    captions, i = [], 0
    while i < len(samples):
        n = int(rate * rng.uniform(0.1, 0.5))
        caption = stream.feed(samples[i : i + n].tobytes(), rate)
        if caption:
            captions.append(caption)
        i += n
    return stream.finish(), captions


def texts(words: Sequence[Word]) -> list[str]:
    return [w.text for w in words]


def assert_timings_inside(transcript: Transcript) -> None:
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts)
    for w in transcript.words:
        assert 0 <= w.start <= w.end <= transcript.duration_s
        assert 0 <= w.conf <= 1


def test_one_shot_transcript(
    one_shot: Transcript, korean_wav: Path, model_files: ModelPaths
) -> None:
    assert one_shot.language == "ko" and not one_shot.silent and one_shot.words
    assert one_shot.text == " ".join(texts(one_shot.words))
    assert one_shot.duration_s == pytest.approx(read_wav(korean_wav).info.duration_s)
    assert one_shot.model == model_files.store.get("vosk-model-small-ko").ref()
    assert_timings_inside(one_shot)


def test_streaming_gives_the_same_words_as_one_shot(
    recognizer: SpeechRecognizer, korean_wav: Path, one_shot: Transcript
) -> None:
    audio = read_wav(korean_wav)
    streamed, captions = stream_in_chunks(recognizer, audio.samples, audio.sample_rate)
    assert streamed.words == one_shot.words  # text, times and confidences
    assert streamed.duration_s == pytest.approx(one_shot.duration_s)
    assert captions, "live captions while the answer is captured"


def test_module_level_transcribe_file(
    model_files: ModelPaths, short_wav: Path, short_shot: Transcript
) -> None:
    via_file = transcribe_file(short_wav, "ko", {"ko": model_files.vosk_ko})
    assert via_file.words == short_shot.words
    # no ref given: one is made from the directory, with the model store's digest
    assert via_file.model is not None and via_file.model.version == "unknown"
    assert via_file.model.sha256 == model_files.store.get("vosk-model-small-ko").digest


def test_other_sample_rates(
    recognizer: SpeechRecognizer, short_wav: Path, short_shot: Transcript
) -> None:
    audio = read_wav(short_wav)  # espeak writes 22050 Hz
    at_16k = resample(audio.samples, audio.sample_rate)
    reference = recognizer.transcribe(at_16k, 16000, "ko")
    assert reference.words
    assert short_shot.words == reference.words  # 22050 Hz in, the same words
    # 44.1 kHz: the same band, filtered twice; similar words
    at_44k = resample(audio.samples, audio.sample_rate, 44100)
    heard = recognizer.transcribe(at_44k, 44100, "ko")
    similarity = difflib.SequenceMatcher(None, texts(heard.words), texts(reference.words)).ratio()
    assert similarity >= 0.6, (heard.text, reference.text)
    assert heard.duration_s == pytest.approx(reference.duration_s, abs=1e-3)
    # 8 kHz (telephone band): the same words as that audio upsampled to 16 kHz beforehand
    at_8k = resample(audio.samples, audio.sample_rate, 8000)
    narrow = recognizer.transcribe(at_8k, 8000, "ko")
    assert narrow.words == recognizer.transcribe(resample(at_8k, 8000), 16000, "ko").words
    assert narrow.words
    assert_timings_inside(narrow)


def test_silence_is_silent(recognizer: SpeechRecognizer, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    zeros = write_wav(tmp_path / "zeros.wav", np.zeros(22050, dtype=np.int16), 22050)
    hiss = np.rint(rng.standard_normal(16000) * 6).astype(np.int16)
    noise = write_wav(tmp_path / "hiss.wav", hiss, 16000)
    for path in (zeros, noise):
        t = recognizer.transcribe_file(path, "ko")
        assert t.silent and t.words == () and t.text == ""
        assert t.duration_s == pytest.approx(1.0)
    empty = recognizer.stream("ko").finish()
    assert empty.silent and empty.duration_s == 0


def test_segments_are_decoded_while_the_answer_goes_on(
    recognizer: SpeechRecognizer, short_wav: Path
) -> None:
    audio = read_wav(short_wav)
    gap = np.zeros(audio.sample_rate * 3, dtype=np.int16)  # vosk ends a segment within 2 s
    long = np.concatenate([audio.samples, gap, audio.samples])
    stream = recognizer.stream("ko", partials=False)
    step = audio.sample_rate // 4
    for i in range(0, len(long) - len(audio.samples), step):
        assert stream.feed(long[i : i + step], audio.sample_rate) is None  # partials off
    kept = stream.words
    assert kept, "the first sentence was decoded before the answer ended"
    stream.feed(long[i + step :], audio.sample_rate)
    done = stream.finish()
    assert done.words[: len(kept)] == kept
    assert done.words[-1].start > audio.info.duration_s + 1  # times run on across segments
    assert_timings_inside(done)


def test_bad_use(recognizer: SpeechRecognizer, tmp_path: Path) -> None:
    with pytest.raises(UnknownLanguage, match=r"'en' \(installed: ko\)"):
        recognizer.stream("en")
    stream = recognizer.stream("ko")
    stream.feed(np.zeros(1600, dtype=np.int16), 16000)
    with pytest.raises(AudioError, match="sample rate changed from 16000 to 8000 Hz"):
        stream.feed(np.zeros(800, dtype=np.int16), 8000)
    stream.finish()
    with pytest.raises(SpeechError, match="finished"):
        stream.feed(np.zeros(10, dtype=np.int16), 16000)
    with pytest.raises(SpeechError, match="already finished"):
        stream.finish()
    with pytest.raises(ModelError, match="no such directory"):
        SpeechRecognizer({"ko": tmp_path / "missing"}).model("ko")
    with pytest.raises(ModelError, match="not a vosk model directory"):
        SpeechRecognizer({"ko": tmp_path}).stream("ko")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(AudioError, match=r"bad\.wav"):
        recognizer.transcribe_file(bad, "ko")


def test_model_is_loaded_once_and_shared(
    recognizer: SpeechRecognizer, model_files: ModelPaths
) -> None:
    a, b = recognizer.stream("ko"), recognizer.stream("ko")
    assert a.model is b.model is recognizer.model("ko")
    other = SpeechRecognizer({"ko": model_files.vosk_ko.parent / model_files.vosk_ko.name})
    assert other.model("ko") is a.model
    assert MODELS.loaded().count(model_files.vosk_ko.resolve()) == 1


def test_concurrent_first_use_loads_one_model(model_files: ModelPaths) -> None:
    cache = ModelCache()
    got: list[object] = []
    threads = [
        threading.Thread(target=lambda: got.append(cache.get(model_files.vosk_ko)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(m is got[0] for m in got)
    assert len(cache.loaded()) == 1
    assert cache.evict(model_files.vosk_ko) and not cache.loaded()
