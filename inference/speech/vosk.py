"""Speech recognition with vosk: models loaded once and shared, one stream per answer.

A :class:`SpeechRecognizer` maps languages to vosk model directories. Each model is loaded
once per process (:class:`inference.speech.vosk_models.ModelCache`, thread-safe) and shared by
every stream. A :class:`SpeechStream` takes audio as it is captured, at
any sample rate, resamples it to 16 kHz and feeds the recogniser in fixed 0.2 s blocks, so
the words do not depend on how the caller chunks the audio, and a one-shot
:func:`transcribe_file` gives the same words as live streaming. Whenever vosk detects an
endpoint, the finished segment's words are kept; :meth:`SpeechStream.finish` then only
decodes the tail after the last endpoint (vosk ends a segment after 20 s at most), so the
time from the end of an answer to its transcript does not grow with the answer's length.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import vosk

from inference.errors import InferenceError, UnknownLanguage
from inference.findings import ModelRef, Transcript, Word
from inference.speech.audio import SILENCE_DBFS, TARGET_RATE, Int16Array, read_wav
from inference.speech.stream_input import FedStream, StreamInput, clamp
from inference.speech.vosk_models import MODELS, ModelCache, load_model

BLOCK_SAMPLES = TARGET_RATE // 5
"""Audio is fed to vosk in blocks of 0.2 s; endpoints are checked after each block."""
UNKNOWN_WORDS = frozenset({"[unk]", "<unk>"})
"""Tokens vosk emits for speech outside its vocabulary; dropped from transcripts."""
DITHER_SEED = 20_26
"""Seed of the deterministic dither added in place of Kaldi's random one (see
:mod:`inference.speech.vosk_models`)."""
PARTIAL_BLOCKS = 2
"""Live captions are refreshed at most every this many blocks (0.4 s of audio)."""
_NOISE = np.rint(np.random.default_rng(DITHER_SEED).standard_normal(1 << 16)).astype(np.int32)

__all__ = [
    "MODELS",
    "ModelCache",
    "SpeechError",
    "SpeechRecognizer",
    "SpeechStream",
    "load_model",
    "transcribe_file",
]


class SpeechError(InferenceError):
    """A speech stream was misused (fed after it finished, finished twice)."""


class SpeechRecognizer:
    """Speech to text with vosk for the installed languages (the ``vosk`` backend of
    :mod:`inference.speech.recognizer`).

    ``models`` maps a language ("zh-CN", "en", "ko") to its vosk model directory; ``refs``
    optionally gives the model store's :class:`ModelRef` per language (otherwise one is
    computed from the directory, once).
    """

    backend = "vosk"

    def __init__(
        self,
        models: Mapping[str, str | Path],
        *,
        refs: Mapping[str, ModelRef] | None = None,
        cache: ModelCache | None = None,
        silence_dbfs: float = SILENCE_DBFS,
        deterministic: bool = True,
    ) -> None:
        self._dirs = {lang: Path(d) for lang, d in models.items()}
        self._refs = dict(refs or {})
        self._cache = cache or MODELS
        self.silence_dbfs = silence_dbfs
        self.deterministic = deterministic

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._dirs)

    def model_dir(self, language: str) -> Path:
        try:
            return self._dirs[language]
        except KeyError:
            raise UnknownLanguage(language, sorted(self._dirs)) from None

    def model(self, language: str) -> Any:
        """The shared ``vosk.Model`` of ``language``, loaded on first use."""
        return self._cache.get(self.model_dir(language), self.deterministic)

    def ref(self, language: str) -> ModelRef:
        if language in self._refs:
            return self._refs[language]
        return self._cache.ref(self.model_dir(language))

    def preload(self, *languages: str) -> None:
        """Load models (and their refs) now, so the first answer does not wait."""
        for language in languages or self.languages:
            self.model(language)
            self.ref(language)

    def stream(self, language: str, *, partials: bool = True,
               hints: Sequence[str] = ()) -> SpeechStream:
        """A new stream for one answer; ``partials`` turns live caption text on. vosk's
        small models have a fixed vocabulary, so ``hints`` are not used."""
        return SpeechStream(
            self.model(language),
            language,
            self.ref(language),
            partials=partials,
            silence_dbfs=self.silence_dbfs,
            dither=self.deterministic,
        )

    def transcribe(
        self, samples: bytes | npt.NDArray[np.generic], sample_rate: int, language: str
    ) -> Transcript:
        """One-shot: the same pipeline and blocks as streaming, so the same words."""
        stream = self.stream(language, partials=False)
        stream.feed(samples, sample_rate)
        return stream.finish()

    def transcribe_file(self, path: str | Path, language: str) -> Transcript:
        audio = read_wav(path)
        return self.transcribe(audio.samples, audio.sample_rate, language)


def transcribe_file(
    path: str | Path,
    language: str,
    models: Mapping[str, str | Path],
    *,
    refs: Mapping[str, ModelRef] | None = None,
) -> Transcript:
    """Transcribe a WAV file with the shared model of ``language`` (a one-shot
    :class:`SpeechRecognizer`; the model is still loaded only once per process)."""
    return SpeechRecognizer(models, refs=refs).transcribe_file(path, language)


class SpeechStream(FedStream):
    """One answer's recognition, fed as audio is captured. Not for use by several threads."""

    def __init__(
        self,
        model: Any,
        language: str,
        ref: ModelRef | None,
        *,
        partials: bool = True,
        silence_dbfs: float = SILENCE_DBFS,
        dither: bool = False,
    ) -> None:
        """``dither``: add seeded 1-LSB dither (for a model loaded with ``--dither=0``)."""
        self.model, self.language, self.model_ref, self.partials = model, language, ref, partials
        self._dither = dither
        self._blocks = 0
        self._partial_at = 0
        self._rec = vosk.KaldiRecognizer(model, TARGET_RATE)
        self._rec.SetWords(True)
        self._input = StreamInput(silence_dbfs)
        self._pending: Int16Array = np.zeros(0, dtype=np.int16)
        self._words: list[Word] = []
        self._partial = ""
        self._finished = False

    @property
    def words(self) -> tuple[Word, ...]:
        """Words of the segments finished so far (vosk found an endpoint after them)."""
        return tuple(self._words)

    @property
    def caption(self) -> str:
        """The words so far: finished segments and the current partial hypothesis."""
        return " ".join(filter(None, (" ".join(w.text for w in self._words), self._partial)))

    def feed(self, chunk: bytes | npt.NDArray[np.generic], sample_rate: int) -> str | None:
        """Add captured audio (int16 bytes/array or float array, any rate from 8 kHz up).

        Returns the live caption when partials are on and at least 0.4 s more audio was
        decoded since the last caption, else None.
        """
        if self._finished:
            raise SpeechError("this speech stream is finished; start a new one per answer")
        decoded = self._decode(self._input.take(chunk, sample_rate))
        if not decoded or not self.partials or self._blocks - self._partial_at < PARTIAL_BLOCKS:
            return None
        self._partial_at = self._blocks
        self._partial = json.loads(self._rec.PartialResult()).get("partial", "")
        return self.caption

    def finish(self) -> Transcript:
        """Decode what is left and return the answer's transcript; the stream is then closed.

        ``silent`` is True when no 30 ms frame was louder than the silence threshold (any
        words vosk guessed from such audio are dropped) or when no words were recognised.
        The recognition quality is the mean word confidence.
        """
        if self._finished:
            raise SpeechError("this speech stream is already finished")
        self._finished = True
        self._decode(self._input.flush(), tail=True)
        self._segment(self._rec.FinalResult())
        self._partial = ""
        duration = self.duration_s
        words = [] if self._input.meter.silent else [clamp(w, duration) for w in self._words]
        return Transcript(
            language=self.language,
            words=tuple(words),
            text=" ".join(w.text for w in words),
            duration_s=duration,
            silent=not words,
            model=self.model_ref,
            quality=round(sum(w.conf for w in words) / len(words), 4) if words else None,
        )

    def _decode(self, samples: Int16Array, tail: bool = False) -> bool:
        """Feed whole blocks (and with ``tail`` the rest); True when any block was decoded."""
        pending = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        whole = len(pending) if tail else len(pending) // BLOCK_SAMPLES * BLOCK_SAMPLES
        for start in range(0, whole, BLOCK_SAMPLES):
            block = pending[start : min(whole, start + BLOCK_SAMPLES)]
            if self._dither:
                block = dither(block, self._blocks)
            self._blocks += 1
            if self._rec.AcceptWaveform(block.tobytes()):
                self._segment(self._rec.Result())
                self._partial = ""
        self._pending = pending[whole:]
        return whole > 0

    def _segment(self, result: str) -> None:
        for item in json.loads(result).get("result", ()):
            text = str(item.get("word", "")).strip()
            if not text or text.lower() in UNKNOWN_WORDS:
                continue
            start, end = max(0.0, float(item["start"])), max(0.0, float(item["end"]))
            conf = min(1.0, max(0.0, float(item.get("conf", 1.0))))
            self._words.append(Word(text=text, start=start, end=max(start, end), conf=conf))


def dither(block: Int16Array, index: int) -> Int16Array:
    """``block`` plus Gaussian noise of 1 LSB (Kaldi's dither), the same for the same block
    index: a slice of a fixed noise table at an offset hopping with the index."""
    offset = (index * 7919) % (len(_NOISE) - BLOCK_SAMPLES)
    noise = _NOISE[offset : offset + len(block)]
    out: Int16Array = np.clip(block.astype(np.int32) + noise, -32768, 32767).astype(np.int16)
    return out
