"""Real human speech with its reference text, from the package registries, for accuracy.

- Mandarin and English: the reference voices in the ``f5-tts`` 1.1.22 wheel (MIT): a
  man saying a line in Mandarin, a woman one in English.
- English: five LibriVox read-speech clips (public domain) in Debian's
  ``pocketsphinx-testdata``, with their transcription.
- English: CREMA-D actor 1001 saying "Don't forget a jacket" with six emotions (Open
  Database License), the audio of the clips :func:`kiosk.rigs.samples.crema_clips` fetches.

Each is fetched once, pinned by sha256 where it comes from PyPI, and stored as 16 kHz mono
WAV in the cache. Nothing is committed to the repository. A site brings a larger set of
its own with ``--speech-set DIR`` (WAV files and a ``refs.tsv``: file, language, text).
"""

from __future__ import annotations

import csv
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from inference.errors import ModelError
from inference.media import extract_audio
from inference.models.installer import Progress, _quiet, fetch
from inference.models.manifest import PypiSource
from kiosk.rigs.samples import crema_clips

F5_TTS = PypiSource(
    package="f5-tts", version="1.1.22", filename="f5_tts-1.1.22-py3-none-any.whl",
    sha256="f0505dfb5463645caa526bace346ed1c89bcc9acb9ef42fdffd56c2c4c0a09d1",
)
F5_CLIPS = {
    "f5-zh": ("f5_tts/infer/examples/basic/basic_ref_zh.wav", "zh-CN",
              "对，这就是我，万人敬仰的太乙真人。"),
    "f5-en": ("f5_tts/infer/examples/basic/basic_ref_en.wav", "en",
              "Some call me nature, others call me mother nature."),
}
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
CREMA_TEXT = "Don't forget a jacket."


@dataclass(frozen=True)
class Clip:
    path: Path
    language: str
    text: str
    source: str


def f5_clips(cache: Path, progress: Progress = _quiet) -> list[Clip]:
    out = cache / "speech" / "f5"
    clips = [Clip(out / f"{name}.wav", lang, text, "f5-tts reference voice")
             for name, (_, lang, text) in F5_CLIPS.items()]
    if all(c.path.exists() for c in clips):
        return clips
    wheel = fetch(F5_TTS, cache / "downloads", progress)
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for name, (member, _, _) in F5_CLIPS.items():
            raw = out / f"{name}.src.wav"
            raw.write_bytes(zf.read(member))
            _to_wav(raw, out / f"{name}.wav")  # one of them has a header longer than its data
            raw.unlink()
    return clips


def librivox_clips() -> list[Clip]:
    """The LibriVox clips of Debian's pocketsphinx-testdata (empty when not installed)."""
    listing = LIBRIVOX / "transcription"
    if not listing.is_file():
        return []
    clips = []
    for line in listing.read_text("utf-8").splitlines():
        found = re.match(r"<s>\s*(.*?)\s*</s>\s*\((\S+)\)", line)
        if found and (LIBRIVOX / f"{found[2]}.wav").is_file():
            clips.append(Clip(LIBRIVOX / f"{found[2]}.wav", "en", found[1], "LibriVox"))
    return clips


def crema_audio(cache: Path, progress: Progress = _quiet) -> list[Clip]:
    out = cache / "speech" / "crema-d"
    clips = []
    for code, video in crema_clips(cache, progress).items():
        wav = out / f"1001_DFA_{code}.wav"
        if not wav.exists():
            out.mkdir(parents=True, exist_ok=True)
            if extract_audio(video, wav) is None:
                raise ModelError(f"{video} has no audio track")
        clips.append(Clip(wav, "en", CREMA_TEXT, f"CREMA-D ({code})"))
    return clips


def human_speech(cache: Path, progress: Progress = _quiet) -> list[Clip]:
    """Every human speech clip the registries give, with its reference text."""
    return [*f5_clips(cache, progress), *librivox_clips(), *crema_audio(cache, progress)]


def speech_set(directory: Path) -> list[Clip]:
    """A site's own set: ``refs.tsv`` lines of file, language, reference text (tab-separated)."""
    refs = directory / "refs.tsv"
    if not refs.is_file():
        raise ModelError(f"{directory}: no refs.tsv (lines: file<TAB>language<TAB>text)")
    clips = []
    with refs.open(encoding="utf-8", newline="") as f:
        for number, fields in enumerate(csv.reader(f, delimiter="\t"), start=1):
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) != 3:
                raise ModelError(f"{refs}:{number}: expected file, language and text")
            path = directory / fields[0]
            if not path.is_file():
                raise ModelError(f"{refs}:{number}: {path} does not exist")
            clips.append(Clip(path, fields[1], fields[2], directory.name))
    return clips


def _to_wav(source: Path, dest: Path) -> None:
    if extract_audio(source, dest) is None:
        raise ModelError(f"{source.name}: no audio")
