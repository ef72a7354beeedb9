"""The model store: installed models, each file's digest recorded at install and checked at load.

Layout under the store's root::

    index.json                 what is installed: spec, per-file sha256, installed size
    <name>/...                 the model's files (only the model files, nothing else)

A model whose files differ from the index (changed, missing or extra) fails verification and
is never loaded: :meth:`ModelStore.open` raises :class:`ModelVerificationError` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from inference.errors import ModelError, ModelNotInstalled, ModelVerificationError, UnknownLanguage
from inference.findings import ModelRef
from inference.models.manifest import SPEECH_BACKENDS, ModelSpec

INDEX = "index.json"
_CHUNK = 1 << 20


class InstalledModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    spec: ModelSpec
    files: dict[str, str]
    """Relative path (posix) -> sha256, as written at install time."""
    size: int
    digest: str
    """sha256 over the sorted (path, file digest) pairs: one value naming this exact install."""

    @property
    def name(self) -> str:
        return self.spec.name

    def ref(self) -> ModelRef:
        return ModelRef(name=self.spec.name, version=self.spec.version, sha256=self.digest)


@dataclass(frozen=True)
class VerifiedModel:
    """A model that passed verification just now: where to load it from, and what it is."""

    path: Path
    ref: ModelRef
    spec: ModelSpec


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(f"{rel}\0{files[rel]}\n".encode())
    return h.hexdigest()


def walk_files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath, name)


class ModelStore:
    """Installed models under ``root``. Thread-safe for concurrent reads and one writer."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    # --- index -------------------------------------------------------------------------------

    def _index_path(self) -> Path:
        return self.root / INDEX

    def _read_index(self) -> dict[str, InstalledModel]:
        path = self._index_path()
        try:
            raw: Any = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ModelError(f"model index {path} cannot be read: {exc}") from exc
        try:
            return {name: InstalledModel.model_validate(v) for name, v in raw["models"].items()}
        except (KeyError, TypeError, AttributeError, ValidationError) as exc:
            raise ModelError(f"model index {path} is damaged: {exc}") from exc

    def _write_index(self, models: dict[str, InstalledModel]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        body = {"models": {n: m.model_dump(mode="json") for n, m in sorted(models.items())}}
        tmp = self._index_path().with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(body, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._index_path())

    def installed(self) -> list[InstalledModel]:
        return sorted(self._read_index().values(), key=lambda m: (m.spec.kind, m.name))

    def get(self, name: str) -> InstalledModel:
        models = self._read_index()
        if name not in models:
            have = ", ".join(sorted(models)) or "none"
            raise ModelNotInstalled(f"model '{name}' is not installed (installed: {have})")
        return models[name]

    def model_dir(self, name: str) -> Path:
        return self.root / name

    # --- writing -----------------------------------------------------------------------------

    def record(self, spec: ModelSpec, staged: Path) -> InstalledModel:
        """Move a fully written ``staged`` directory into place and index it, atomically enough:
        the old copy is replaced only once the new one is complete, and the index last."""
        files = {p.relative_to(staged).as_posix(): sha256_file(p) for p in walk_files(staged)}
        if not files:
            raise ModelError(f"model '{spec.name}': nothing to install from {staged}")
        size = sum(p.stat().st_size for p in walk_files(staged))
        entry = InstalledModel(spec=spec, files=files, size=size, digest=tree_digest(files))
        with self._lock:
            target = self.model_dir(spec.name)
            old = target.with_name(f".old-{spec.name}")
            if old.exists():
                _remove_tree(old)
            if target.exists():
                target.rename(old)
            staged.rename(target)
            models = self._read_index()
            models[spec.name] = entry
            self._write_index(models)
            if old.exists():
                _remove_tree(old)
        return entry

    def remove(self, name: str) -> None:
        with self._lock:
            models = self._read_index()
            if name not in models:
                raise ModelNotInstalled(f"model '{name}' is not installed")
            del models[name]
            self._write_index(models)
            if self.model_dir(name).exists():
                _remove_tree(self.model_dir(name))

    def staging_dir(self, name: str) -> Path:
        path = self.root / f".staging-{name}"
        if path.exists():
            _remove_tree(path)
        path.mkdir(parents=True)
        return path

    # --- verification and loading ------------------------------------------------------------

    def problems(self, model: InstalledModel) -> list[str]:
        """What differs between the model's files on disk and its index entry, by file."""
        base = self.model_dir(model.name)
        if not base.is_dir():
            return [f"directory {base} is missing"]
        found: list[str] = []
        on_disk = {p.relative_to(base).as_posix() for p in walk_files(base)}
        for rel, digest in sorted(model.files.items()):
            if rel not in on_disk:
                found.append(f"{base / rel} is missing")
            elif sha256_file(base / rel) != digest:
                found.append(f"{base / rel} has changed (sha256 differs)")
        found += [
            f"{base / rel} was not installed with the model"
            for rel in sorted(on_disk - set(model.files))
        ]
        return found

    def verify(self, names: list[str] | None = None) -> dict[str, list[str]]:
        """Problems per model (an empty list means verified)."""
        models = self._read_index()
        wanted = names if names is not None else sorted(models)
        return {name: self.problems(self.get(name)) for name in wanted}

    def open(self, name: str) -> VerifiedModel:
        """Verify one model now and return where to load it from; refuse a model that fails."""
        model = self.get(name)
        problems = self.problems(model)
        if problems:
            raise ModelVerificationError(name, problems)
        path = self.model_dir(name) / model.spec.entry
        return VerifiedModel(path=path.resolve(), ref=model.ref(), spec=model.spec)

    def find(self, kind: str, language: str | None = None) -> InstalledModel:
        """The installed model of ``kind`` (and ``language`` for speech: the preferred
        backend's model among those serving it, see :data:`SPEECH_BACKENDS`)."""
        candidates = [m for m in self.installed() if m.spec.kind == kind]
        if kind == "speech" and language is not None:
            matching = [m for m in candidates if any(
                _same_language(lang, language) for lang in m.spec.served_languages())]
            if not matching:
                have = sorted({lang for m in candidates for lang in m.spec.served_languages()})
                raise UnknownLanguage(language, have)
            candidates = sorted(matching, key=_preference)
        if not candidates:
            raise ModelNotInstalled(
                f"no {kind.replace('_', ' ')} model is installed; run `kiosk models install`"
            )
        return candidates[0]

    def speech_languages(self) -> dict[str, str]:
        """Installed speech languages -> the model that serves each (a multilingual model
        serves several; where models overlap, the preferred backend's model wins)."""
        served: dict[str, InstalledModel] = {}
        for m in sorted((m for m in self.installed() if m.spec.kind == "speech"),
                        key=_preference, reverse=True):
            for language in m.spec.served_languages():
                served[language] = m
        return {language: m.name for language, m in served.items()}


def _preference(model: InstalledModel) -> tuple[int, str]:
    backend = model.spec.speech_backend
    rank = SPEECH_BACKENDS.index(backend) if backend in SPEECH_BACKENDS else len(SPEECH_BACKENDS)
    return rank, model.name


def _same_language(installed: str | None, wanted: str) -> bool:
    """'zh' matches 'zh-CN'; comparison on the primary subtag, case-insensitively."""
    if installed is None:
        return False
    return installed.lower().split("-")[0] == wanted.lower().split("-")[0]


def _remove_tree(path: Path) -> None:
    for p in sorted(path.rglob("*"), key=lambda q: len(q.parts), reverse=True):
        if p.is_dir() and not p.is_symlink():
            p.rmdir()
        else:
            p.unlink()
    path.rmdir()


@dataclass(frozen=True)
class ModelFiles:
    """The verified files of one of each kind of model, for the analysers to load."""

    face_detection: VerifiedModel
    face_landmarks: VerifiedModel
    expression: VerifiedModel
    speech: dict[str, VerifiedModel]
    """Language (as installed, e.g. 'ko') -> the speech model serving it (its ``spec.backend``
    says which recogniser loads it); a multilingual model appears under each language."""
    hands: VerifiedModel | None = None
    """The hand-tracking model (a directory of palm-detection and hand-landmark files); None
    when not installed: demonstrations are then measured by motion alone."""

    @classmethod
    def open(cls, store: ModelStore) -> ModelFiles:
        """Verify and open every installed kind; raises naming the first model that fails.
        A model serving several languages is verified once."""
        opened: dict[str, VerifiedModel] = {}

        def verified(name: str) -> VerifiedModel:
            if name not in opened:
                opened[name] = store.open(name)
            return opened[name]

        return cls(
            face_detection=verified(store.find("face_detection").name),
            face_landmarks=verified(store.find("face_landmarks").name),
            expression=verified(store.find("expression").name),
            speech={lang: verified(name) for lang, name in store.speech_languages().items()},
            hands=next(
                (verified(m.name) for m in store.installed() if m.spec.kind == "hands"), None
            ),
        )
