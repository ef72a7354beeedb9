"""``kiosk transcribe``: speech to text for recorded files, with the installed models.

The speech model is loaded once for all the files; each file gives one JSON line on stdout
(file, language, text, words with times, recognition quality, audio and decode seconds), so
the output can be piped into other tools. A file that cannot be read gives a line with its
``error`` and the others go on; the exit status is 1 when any file failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from device.config import KioskConfig
from device.errors import KioskError
from inference.errors import InferenceError

LANGUAGES = ("zh-CN", "en", "ko")


def cmd_transcribe(args: argparse.Namespace, config: KioskConfig) -> int:
    from inference.models.store import ModelFiles, ModelStore
    from inference.speech.recognizer import Speech
    from inference.speech.whisper import WhisperSettings

    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        raise KioskError(f"no such file: {', '.join(missing)}")
    a = config.analysis
    mode = a.speech_hints if a.speech_hints != "off" or not args.hint else "hotwords"
    settings = WhisperSettings(beam_size=args.beam_size or a.speech_beam_size,
                               cpu_threads=a.speech_threads, hints=mode,
                               min_chunk_s=a.speech_chunk_s)
    speech = Speech(ModelFiles.open(ModelStore(config.models_dir)).speech, settings)
    speech.serving(args.language)  # an unknown language fails before any model loads
    started = time.perf_counter()
    speech.preload(args.language)
    load_s = time.perf_counter() - started
    print(f"speech model {speech.ref(args.language).name} loaded in {load_s:.2f} s",
          file=sys.stderr)
    failed = 0
    for path in args.files:
        line = _one(speech, path, args.language, tuple(args.hint or ()))
        failed += "error" in line
        print(json.dumps(line, ensure_ascii=False) if args.json else _plain(line), flush=True)
    return 1 if failed else 0


def _one(speech: Any, path: Path, language: str, hints: tuple[str, ...]) -> dict[str, Any]:
    from inference.media import MediaError, extract_audio

    started = time.perf_counter()
    try:
        if path.suffix.lower() == ".wav":
            transcript = speech.transcribe_file(path, language, hints)
        else:
            with tempfile.TemporaryDirectory(prefix="kiosk-transcribe-") as tmp:
                wav = extract_audio(path, Path(tmp) / "audio.wav")
                if wav is None:
                    raise MediaError(f"{path}: no audio track")
                transcript = speech.transcribe_file(wav, language, hints)
    except (InferenceError, OSError) as exc:
        return {"file": str(path), "language": language, "error": str(exc)}
    return {
        "file": str(path), "language": transcript.language, "text": transcript.text,
        "words": [w.model_dump() for w in transcript.words],
        "quality": transcript.quality, "silent": transcript.silent,
        "audio_s": round(transcript.duration_s, 3),
        "decode_s": round(time.perf_counter() - started, 3),
        "model": transcript.model.model_dump() if transcript.model else None,
    }


def _plain(line: dict[str, Any]) -> str:
    if "error" in line:
        return f"{line['file']}: error: {line['error']}"
    quality = "-" if line["quality"] is None else f"{line['quality']:.2f}"
    text = line["text"] or "(no speech)"
    return (f"{line['file']} [{line['language']}, {line['audio_s']:.1f} s audio,"
            f" {line['decode_s']:.1f} s decode, quality {quality}]\n  {text}")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "transcribe", help="Speech to text for audio or video files with the installed models.",
        description="Speech to text for audio or video files with the installed models: the"
        " model is loaded once, one line per file.")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE",
                   help="WAV files, or any audio/video file ffmpeg reads")
    p.add_argument("--language", default="zh-CN", choices=LANGUAGES,
                   help="the language spoken (default: zh-CN)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line: file, language, text, words with times,"
                   " quality, silent, audio_s, decode_s, model")
    p.add_argument("--hint", action="append", metavar="TERM",
                   help="a term the speech is likely to hold (repeatable), as a job's keywords;"
                   " passed as hotwords unless [analysis] speech_hints says prompt")
    p.add_argument("--beam-size", type=int, choices=range(1, 11), metavar="N",
                   help="Whisper beam width (default from config: 5)")
    p.set_defaults(handler=cmd_transcribe)
