"""Vosk models, loaded once per process and shared by every speech stream.

Loading a model takes seconds and hundreds of MB, so :class:`ModelCache` keeps each one by
its resolved directory and loads it once however many threads ask at the same time.

Kaldi adds random dither (1 LSB of Gaussian noise) to the audio before computing features,
from a process-wide random state, so the same audio gives slightly different words from run
to run. A model loaded ``deterministic`` (the default) gets ``--dither=0`` through a
temporary overlay of its directory (symlinks plus an amended copy of ``conf/mfcc.conf``; the
installed files are untouched and the overlay is removed once vosk has read it), and
:class:`inference.speech.vosk.SpeechStream` adds the same amount of dither itself from a fixed
seed per 0.2 s block: the same audio then always gives the same transcript, streamed in any
chunks or in one piece.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

import vosk

from inference.errors import ModelError
from inference.findings import ModelRef
from inference.models.store import sha256_file, tree_digest, walk_files

vosk.SetLogLevel(-1)


def _key(model_dir: str | Path) -> Path:
    return Path(model_dir).expanduser().resolve()


def _check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise ModelError(f"speech model {path}: no such directory")
    if not (path / "am" / "final.mdl").is_file():
        raise ModelError(f"speech model {path}: not a vosk model directory (no am/final.mdl)")


class ModelCache:
    """Loaded vosk models by resolved directory (and ``deterministic``), each loaded once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple[Path, bool], Any] = {}
        self._loading: dict[tuple[Path, bool], threading.Lock] = {}
        self._refs: dict[Path, ModelRef] = {}

    def get(self, model_dir: str | Path, deterministic: bool = True) -> Any:
        """The ``vosk.Model`` for ``model_dir``, loading it on first use."""
        key = (_key(model_dir), deterministic)
        with self._lock:
            if key in self._models:
                return self._models[key]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one loader per directory; other directories load in parallel
            with self._lock:
                if key in self._models:
                    return self._models[key]
            model = _load(key[0], deterministic)
            with self._lock:
                self._models[key] = model
                self._loading.pop(key, None)
            return model

    def ref(self, model_dir: str | Path) -> ModelRef:
        """A :class:`ModelRef` for a directory with no ref from the model store: its name,
        version ``unknown`` and the store's tree digest of its files (computed once, about
        1 s per 250 MB)."""
        key = _key(model_dir)
        with self._lock:
            if key in self._refs:
                return self._refs[key]
        _check_model_dir(key)
        ref = ModelRef(
            name=key.parent.name if key.name == "model" else key.name,
            version="unknown",
            sha256=tree_digest(
                {p.relative_to(key).as_posix(): sha256_file(p) for p in walk_files(key)}
            ),
        )
        with self._lock:
            return self._refs.setdefault(key, ref)

    def loaded(self) -> tuple[Path, ...]:
        with self._lock:
            return tuple(path for path, _ in self._models)

    def evict(self, model_dir: str | Path) -> bool:
        """Forget a model (its memory is freed once no stream uses it)."""
        path = _key(model_dir)
        with self._lock:
            found = [self._models.pop((path, flag), None) for flag in (True, False)]
        return any(m is not None for m in found)


def _load(path: Path, deterministic: bool) -> Any:
    _check_model_dir(path)
    mfcc = path / "conf" / "mfcc.conf"
    try:
        if not deterministic or not mfcc.is_file():
            return vosk.Model(str(path))
        with tempfile.TemporaryDirectory(prefix="vosk-model-") as tmp:
            overlay = Path(tmp)
            for entry in path.iterdir():
                if entry.name != "conf":
                    (overlay / entry.name).symlink_to(entry)
            (overlay / "conf").mkdir()
            for entry in (path / "conf").iterdir():
                if entry.name != "mfcc.conf":
                    (overlay / "conf" / entry.name).symlink_to(entry)
            lines = [
                ln for ln in mfcc.read_text().splitlines() if not ln.strip().startswith("--dither")
            ]
            (overlay / "conf" / "mfcc.conf").write_text("\n".join([*lines, "--dither=0", ""]))
            return vosk.Model(str(overlay))  # reads every file now; the overlay can go
    except Exception as exc:  # vosk raises a bare Exception
        raise ModelError(f"speech model {path}: vosk could not load it ({exc})") from exc


MODELS = ModelCache()
"""The process-wide cache every recogniser uses unless given its own."""


def load_model(model_dir: str | Path) -> Any:
    """The shared ``vosk.Model`` for ``model_dir`` (loaded on first use)."""
    return MODELS.get(model_dir)
