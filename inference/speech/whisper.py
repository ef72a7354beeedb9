"""Speech recognition with Whisper (faster-whisper on CTranslate2, int8), decoded as spoken.

One multilingual model serves Mandarin, English and Korean. A :class:`WhisperStream` takes
the answer's audio as it is captured, resamples it to 16 kHz, cuts it at the speaker's
pauses (:mod:`inference.speech.segmenter`) and decodes each finished chunk at once, on the thread
that feeds it (the live recogniser's own thread, never capture's), so at the end of the
answer only the last chunk is left. Each word carries its time from the start of the answer.

Decoding is deterministic (temperature 0, no fallback sampling, no conditioning on the
previous chunk, whose errors would otherwise carry on). Chunks with no speech in them are
not decoded at all, since Whisper invents words for silence. Mandarin comes out in
Simplified characters (OpenCC). The job's expected terms can be passed as ``hints``: as
hotwords or as an initial prompt (off by default, see :class:`WhisperSettings`).

Recognition quality (see :mod:`inference.speech.quality`): per decoded segment,
``exp(avg_logprob)``; a segment whose text repeats itself counts 0: Whisper's own loop test
(compression ratio above 2.4), or the same two to six words three times in a row (one word
four times), a loop too short for that test (the repeats are dropped, the first kept); a
segment that writes back the Mandarin prompt also counts 0, its words dropped. The
decoder itself drops a segment it judged not to be speech (no-speech probability above 0.6
with a log-probability below -1). The transcript's quality is the mean over segments
weighted by their length; sound that was decoded but gave no words at all has quality 0
(heard, not understood), while audio with no speech in it (silence, or a steady
background) is ``silent``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inference.errors import InferenceError, ModelError
from inference.findings import ModelRef, Transcript, Word
from inference.speech.audio import SILENCE_DBFS, Int16Array, read_wav
from inference.speech.chinese import simplify_words, to_simplified
from inference.speech.segmenter import Chunk, PauseSegmenter
from inference.speech.stream_input import FedStream, StreamInput, clamp

LOOP_COMPRESSION = 2.4
LOOP_REPEATS = 3
"""The same run of words this many times in a row (a single word once more: "very very
very" is said) is the decoder looping, not speech."""
LOOP_UNIT = 6
PROMPTS = {"zh": "以下是普通话的句子。"}
"""A Simplified-Chinese prompt steers Whisper away from Traditional characters."""
PROMPT_ECHOES = {"zh": "普通话的句子"}
"""On speech it cannot make out, Whisper may write its prompt back ("我发现了普通话的句子"):
a segment holding these words is an echo of the prompt, not what the candidate said."""


class WhisperError(InferenceError):
    """A Whisper stream was misused (fed after it finished, finished twice)."""


@dataclass(frozen=True)
class WhisperSettings:
    beam_size: int = 5
    cpu_threads: int = 1
    compute_type: str = "int8"
    hints: str = "off"
    """How the job's expected terms reach the decoder: 'hotwords', 'prompt' or 'off'. Off by
    default: hotwords raised recall on human speech (26 of 26 said terms against 23) without
    inventing any, but made Whisper append them to a machine voice it heard badly
    ("划伤划伤漏装" after the answer), words never said that would count as evidence."""
    min_chunk_s: float = 6.0
    """Audio pending before a pause ends a chunk. Every chunk costs one 30 s encoder pass
    (Whisper is padded to its window), so shorter chunks cost more CPU for a shorter wait at
    the end of the answer: 6 s keeps that wait near a second at about twice the CPU of one
    pass over the whole answer (see benchmarks/results.md)."""
    max_chunk_s: float = 25.0
    pause_s: float = 0.5


def whisper_language(language: str) -> str:
    """Whisper's code for a BCP 47 tag: 'zh-CN' -> 'zh'."""
    return language.lower().split("-")[0]


class _Models:
    """Loaded Whisper models by (directory, threads, compute type), each loaded once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple[Path, int, str], Any] = {}

    def get(self, path: Path, threads: int, compute_type: str) -> Any:
        key = (path.resolve(), threads, compute_type)
        with self._lock:
            if key not in self._models:
                self._models[key] = _load(key[0], threads, compute_type)
            return self._models[key]


def _load(path: Path, threads: int, compute_type: str) -> Any:
    if not (path / "model.bin").is_file():
        raise ModelError(f"speech model {path}: not a CTranslate2 Whisper model (no model.bin)")
    from faster_whisper import WhisperModel  # loads CTranslate2: only when a model is used

    try:
        return WhisperModel(str(path), device="cpu", compute_type=compute_type,
                            cpu_threads=threads, num_workers=1, local_files_only=True)
    except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError for bad files
        raise ModelError(f"speech model {path}: Whisper could not load it ({exc})") from exc


MODELS = _Models()


class WhisperRecognizer:
    """One installed Whisper model, for the languages it serves."""

    backend = "whisper"

    def __init__(self, path: Path, ref: ModelRef, languages: Sequence[str], *,
                 settings: WhisperSettings | None = None,
                 silence_dbfs: float = SILENCE_DBFS) -> None:
        self.path, self.model_ref, self.languages = path, ref, tuple(languages)
        self.settings = settings or WhisperSettings()
        self.silence_dbfs = silence_dbfs

    def model(self) -> Any:
        s = self.settings
        return MODELS.get(self.path, s.cpu_threads, s.compute_type)

    def preload(self) -> None:
        self.model()

    def stream(self, language: str, *, partials: bool = True,
               hints: Sequence[str] = ()) -> WhisperStream:
        return WhisperStream(self.model(), language, self.model_ref, self.settings,
                             hints=hints, silence_dbfs=self.silence_dbfs)

    def transcribe_file(self, path: str | Path, language: str,
                        hints: Sequence[str] = ()) -> Transcript:
        audio = read_wav(path)
        stream = self.stream(language, partials=False, hints=hints)
        stream.feed(audio.samples, audio.sample_rate)
        return stream.finish()


@dataclass
class _Decoded:
    words: list[Word] = field(default_factory=list)
    weighted_quality: float = 0.0
    weight: float = 0.0


class WhisperStream(FedStream):
    """One answer's recognition, fed as audio is captured. Not for use by several threads."""

    def __init__(self, model: Any, language: str, ref: ModelRef | None,
                 settings: WhisperSettings, *, hints: Sequence[str] = (),
                 silence_dbfs: float = SILENCE_DBFS) -> None:
        self.model, self.language, self.model_ref, self.settings = model, language, ref, settings
        self._code = whisper_language(language)
        self._options = _options(self._code, settings, hints)
        self._segmenter = PauseSegmenter(min_chunk_s=settings.min_chunk_s,
                                         max_chunk_s=settings.max_chunk_s,
                                         pause_s=settings.pause_s, silence_dbfs=silence_dbfs)
        self._input = StreamInput(silence_dbfs)
        self._audio: Int16Array = np.zeros(0, dtype=np.int16)  # from sample self._offset on
        self._offset = 0
        self._decoded = _Decoded()
        self._finished = False
        self.chunks_decoded = 0

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(self._decoded.words)

    @property
    def caption(self) -> str:
        return _join(self._decoded.words, self._code)

    def feed(self, chunk: bytes | npt.NDArray[np.generic], sample_rate: int) -> str | None:
        """Add captured audio; decodes every chunk the pauses complete. Returns the caption
        when a chunk was decoded, else None."""
        if self._finished:
            raise WhisperError("this speech stream is finished; start a new one per answer")
        return self._take(self._input.take(chunk, sample_rate))

    def finish(self) -> Transcript:
        """Decode the last chunk and return the answer's transcript; the stream is closed."""
        if self._finished:
            raise WhisperError("this speech stream is already finished")
        self._finished = True
        self._take(self._input.flush())
        last = self._segmenter.flush()
        if last is not None:
            self._decode(last)
        duration = self.duration_s
        heard = not self._input.meter.silent and self.chunks_decoded > 0
        words = [clamp(w, duration) for w in self._decoded.words] if heard else []
        d = self._decoded
        quality = None
        if heard:
            quality = round(d.weighted_quality / d.weight, 4) if d.weight and words else 0.0
        return Transcript(
            language=self.language, words=tuple(words), text=_join(words, self._code),
            duration_s=duration, silent=not heard, model=self.model_ref, quality=quality,
        )

    def _take(self, samples: Int16Array) -> str | None:
        self._audio = np.concatenate([self._audio, samples]) if len(self._audio) else samples
        chunks = self._segmenter.feed(samples)
        for chunk in chunks:
            self._decode(chunk)
        return self.caption if chunks else None

    def _decode(self, chunk: Chunk) -> None:
        lo, hi = chunk.start - self._offset, chunk.end - self._offset
        audio = self._audio[max(0, lo):max(0, hi)]
        self._audio, self._offset = self._audio[max(0, hi):], chunk.end
        if not chunk.loud or len(audio) == 0:
            return
        self.chunks_decoded += 1
        pcm = audio.astype(np.float32) / 32768.0
        segments, _ = self.model.transcribe(pcm, **self._options)
        for segment in segments:
            self._add(segment, chunk.start_s)

    def _add(self, segment: Any, offset: float) -> None:
        length = max(0.0, float(segment.end) - float(segment.start))
        words = list(segment.words or ())
        said = ["".join(w.word.split()) for w in words]
        looped = loop_start(said)
        if looped is not None:
            words = words[:looped]
        echo = PROMPT_ECHOES.get(self._code)
        echoed = echo is not None and echo in to_simplified("".join(said))
        if echoed:
            words = []
        quality = 0.0 if echoed or looped is not None \
            or segment.compression_ratio > LOOP_COMPRESSION \
            else math.exp(min(0.0, float(segment.avg_logprob)))
        self._decoded.weighted_quality += quality * length
        self._decoded.weight += length
        texts = [w.word.strip() for w in words]
        if self._code == "zh":  # the segment at once, so OpenCC's phrases span words
            texts = simplify_words(texts)
        for w, text in zip(words, texts, strict=True):
            if not text:
                continue
            start = offset + max(0.0, float(w.start))
            end = max(start, offset + float(w.end))
            prob = min(1.0, max(0.0, float(w.probability)))
            self._decoded.words.append(Word(text=text, start=round(start, 3),
                                            end=round(end, 3), conf=round(prob, 4)))


def loop_start(words: Sequence[str]) -> int | None:
    """Where a loop's repeats begin (after its first unit), or None: the first run of one to
    :data:`LOOP_UNIT` words repeated :data:`LOOP_REPEATS` times or more in a row."""
    n = len(words)
    for start in range(n):
        for unit in range(1, LOOP_UNIT + 1):
            repeats = LOOP_REPEATS + (unit == 1)
            if start + unit * repeats > n:
                break
            pattern = words[start:start + unit]
            if all(words[start + k * unit:start + (k + 1) * unit] == pattern
                   for k in range(1, repeats)):
                return start + unit
    return None


def _options(code: str, settings: WhisperSettings, hints: Sequence[str]) -> dict[str, Any]:
    terms = " ".join(dict.fromkeys(h.strip() for h in hints if h.strip()))
    if code == "zh":
        terms = to_simplified(terms)
    prompt = PROMPTS.get(code)
    hotwords: str | None = None
    if terms and settings.hints == "prompt":
        prompt = f"{prompt or ''}{terms}"
    elif terms and settings.hints == "hotwords":
        hotwords = terms
    return {
        "language": code, "task": "transcribe", "beam_size": settings.beam_size,
        "temperature": 0.0, "condition_on_previous_text": False, "word_timestamps": True,
        "vad_filter": False, "initial_prompt": prompt, "hotwords": hotwords,
    }


def _join(words: Sequence[Word], code: str) -> str:
    """The words as text: Chinese without spaces between characters, others with."""
    glue = "" if code in ("zh", "ja") else " "
    return glue.join(w.text for w in words)
