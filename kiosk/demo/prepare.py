"""What the demo needs on this machine before it starts: models, the candidate's video, and
the interview language the installed speech models can hear."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from device.errors import KioskError
from inference.errors import ModelNotInstalled, UnknownLanguage
from inference.models.installer import Progress, install
from inference.models.manifest import load_manifest
from inference.models.store import ModelStore
from kiosk.rigs import samples

#: Languages tried for the candidate, in order, among those the job offers: Mandarin first,
#: as most candidates speak it.
PREFERRED = ("zh-CN", "en", "ko")


def ensure_models(models_dir: Path, cache: Path, progress: Progress) -> ModelStore:
    """The default models, installed (with progress) unless every one already is."""
    store = ModelStore(models_dir)
    wanted = [spec for spec in load_manifest().models if not spec.optional]
    have = {m.name for m in store.installed()}
    if not all(spec.name in have for spec in wanted):
        install(store, wanted, download_dir=cache / "downloads", progress=progress)
    return store


@dataclass(frozen=True)
class Speech:
    language: str
    """The candidate's interview language."""
    installed: dict[str, str]
    """Installed speech language -> 'name version'."""
    summary: str
    note: str


def choose_speech(store: ModelStore, job_languages: list[str],
                  wanted: str | None = None) -> Speech:
    """Interview in ``wanted``, else in a language an installed speech model hears
    (Mandarin first when there)."""
    names = {m.name: f"{m.name} {m.spec.version}" for m in store.installed()}
    installed = {lang: names[name] for lang, name in store.speech_languages().items()}
    if wanted is not None and wanted not in job_languages:
        raise KioskError(f"the example job is not offered in '{wanted}'"
                         f" (languages: {', '.join(job_languages)})")
    offered = [lang for lang in PREFERRED if lang in job_languages]
    if wanted is not None:
        offered = [wanted, *(lang for lang in offered if lang != wanted)]
    heard = [lang for lang in offered if _hears(store, lang)]
    others = [lang for lang in (*offered, *job_languages) if lang not in heard]
    others = list(dict.fromkeys(others))
    summary = "; ".join(f"{name} ({lang})" for lang, name in sorted(installed.items())) or "none"
    add = (f"Spoken answers in {', '.join(others)} need a speech model for that language:"
           " `kiosk models install` installs Whisper (zh-CN, en, ko)." if others else "")
    if not heard:
        return Speech(offered[0] if offered else job_languages[0], installed, summary,
                      "No installed speech model hears this job's languages, so answers"
                      f" are recorded but not transcribed. {add}".strip())
    language = heard[0]
    return Speech(language, installed, summary,
                  f"The candidate answers in {language}, which the installed model hears."
                  " The answers are spoken by espeak-ng, a machine voice: the model hears it"
                  " less well than a person (the character error rate below says how much),"
                  f" and answers it cannot understand reliably are not assessed. {add}".strip())


def _hears(store: ModelStore, language: str) -> bool:
    try:
        store.find("speech", language)
    except (ModelNotInstalled, UnknownLanguage):
        return False
    return True


def candidate_video(cache: Path, progress: Progress) -> Path:
    """Actor 1001 of CREMA-D in six short clips, joined into one video (made once)."""
    out = cache / "crema-d" / "candidate.mp4"
    if out.exists():
        return out
    clips = samples.crema_clips(cache, progress)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise KioskError("ffmpeg is needed to replay the demo candidate's video; run"
                         " `make system-packages` (Debian: ffmpeg)")
    inputs = [arg for code in samples.EMOTIONS for arg in ("-i", str(clips[code]))]
    n = len(samples.EMOTIONS)
    joined = "".join(f"[{i}:v]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]"
    part = out.with_suffix(".part.mp4")
    done = subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-y", *inputs, "-filter_complex", joined,
         "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         str(part)], capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        part.unlink(missing_ok=True)
        raise KioskError(f"ffmpeg could not join the CREMA-D clips: {done.stderr.strip()}")
    part.replace(out)
    return out
