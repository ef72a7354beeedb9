"""Speech recognisers behind one small interface, chosen by the model manifest.

A :class:`Recognizer` turns audio into a stream of timed words for one answer
(:class:`RecognitionStream`: audio in as captured, a :class:`Transcript` out). Each speech
model's manifest entry names its backend (``whisper`` or ``vosk``); :data:`BACKENDS` maps
that name to the code that loads it, as the camera backends are chosen by configuration.
:class:`Speech` serves every installed language from the recogniser of the model chosen
for it (Whisper preferred where several models serve a language), building each model's
recogniser once and loading its weights only when a language is first used.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from inference.errors import ModelError, UnknownLanguage
from inference.findings import ModelRef, Transcript, Word
from inference.models.store import VerifiedModel
from inference.speech.audio import read_wav
from inference.speech.whisper import WhisperSettings

Audio = bytes | npt.NDArray[np.generic]


class RecognitionStream(Protocol):
    """One answer's recognition, fed as audio is captured."""

    language: str

    @property
    def duration_s(self) -> float: ...

    @property
    def level_dbfs(self) -> float: ...

    @property
    def words(self) -> tuple[Word, ...]: ...

    @property
    def caption(self) -> str: ...

    def feed(self, chunk: Audio, sample_rate: int) -> str | None:
        """Add audio at any rate; the live caption when it changed, else None."""

    def finish(self) -> Transcript:
        """Decode what is left; the stream is closed."""


class Recognizer(Protocol):
    backend: str

    def preload(self) -> None:
        """Load the model now, so the first answer does not wait."""

    def stream(self, language: str, *, partials: bool = True,
               hints: Sequence[str] = ()) -> RecognitionStream:
        """A new stream for one answer; ``hints`` are terms the answer is likely to hold."""


Factory = Callable[[VerifiedModel, Sequence[str], WhisperSettings], Recognizer]


def _whisper(model: VerifiedModel, languages: Sequence[str],
             settings: WhisperSettings) -> Recognizer:
    from inference.speech.whisper import WhisperRecognizer

    return WhisperRecognizer(model.path, model.ref, languages, settings=settings)


def _vosk(model: VerifiedModel, languages: Sequence[str],
          settings: WhisperSettings) -> Recognizer:
    from inference.speech.vosk import SpeechRecognizer

    return SpeechRecognizer({lang: model.path for lang in languages},
                            refs={lang: model.ref for lang in languages})


BACKENDS: dict[str, Factory] = {"whisper": _whisper, "vosk": _vosk}
"""Backend name (a speech model's ``backend`` in the manifest) -> how to build it."""


class Speech:
    """Every installed speech language, each served by its model's recogniser."""

    def __init__(self, models: Mapping[str, VerifiedModel],
                 settings: WhisperSettings | None = None) -> None:
        self.models = dict(models)
        self.settings = settings or WhisperSettings()
        self._built: dict[str, Recognizer] = {}
        self._lock = threading.Lock()

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.models)

    def serving(self, language: str) -> str:
        """The installed language serving ``language`` ('zh' serves 'zh-CN' and back)."""
        if language in self.models:
            return language
        primary = language.lower().split("-")[0]
        for installed in self.models:
            if installed.lower().split("-")[0] == primary:
                return installed
        raise UnknownLanguage(language, sorted(self.models))

    def model(self, language: str) -> VerifiedModel:
        return self.models[self.serving(language)]

    def ref(self, language: str) -> ModelRef:
        return self.model(language).ref

    def recognizer(self, language: str) -> Recognizer:
        model = self.model(language)
        backend = model.spec.speech_backend
        with self._lock:
            if model.spec.name not in self._built:
                if backend not in BACKENDS:
                    raise ModelError(f"speech model '{model.spec.name}': unknown backend"
                                     f" '{backend}' (known: {', '.join(BACKENDS)})")
                served = [lang for lang, m in self.models.items() if m.path == model.path]
                self._built[model.spec.name] = BACKENDS[backend](model, served, self.settings)
            return self._built[model.spec.name]

    def preload(self, *languages: str) -> None:
        for language in languages or self.languages:
            self.recognizer(language).preload()

    def stream(self, language: str, *, partials: bool = True,
               hints: Sequence[str] = ()) -> RecognitionStream:
        return self.recognizer(language).stream(self.serving(language), partials=partials,
                                                hints=hints)

    def transcribe(self, samples: Audio, sample_rate: int, language: str,
                   hints: Sequence[str] = ()) -> Transcript:
        stream = self.stream(language, partials=False, hints=hints)
        stream.feed(samples, sample_rate)
        return stream.finish()

    def transcribe_file(self, path: str | Path, language: str,
                        hints: Sequence[str] = ()) -> Transcript:
        audio = read_wav(path)
        return self.transcribe(audio.samples, audio.sample_rate, language, hints)
