"""Whisper on the box: accuracy on real human speech, cost against raw faster-whisper, latency.

Accuracy: every human clip the registries give (:mod:`kiosk.rigs.speech_samples`: Mandarin and
English; no Korean human recording is packaged), plus a site's own set with
``KIOSK_SPEECH_SET=DIR`` (``make bench SPEECH_SET=DIR``): character error rate for Mandarin
and Korean, word error rate for English (jiwer, after the same normalisation on both sides:
case, punctuation, Simplified characters). vosk runs on the same clips where it has a model
(Korean only), else the row says it cannot. espeak-ng's machine voice is reported in rows of
its own, never as the accuracy figure.

Cost: our pipeline (the answer fed as captured in 0.1 s blocks, cut at pauses and decoded
chunk by chunk, words with times) against raw ``faster_whisper.WhisperModel.transcribe``
given the whole answer at once with the same options (int8, one thread, beam 5, word times),
on the same audio in the same run. End-of-answer latency: ours is ``finish()`` after the
last block; the raw library can only start once the answer has ended, so its latency is its
whole decode.

Hints: recall of terms that were said and false hits on terms that were not, with the
job's terms passed as hotwords, as a prompt, and not at all.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from faster_whisper import WhisperModel

from benchmarks.common import CACHE_DIR, Row, median, model_files, peak_rss_mib, progress, ratio
from inference.content.delivery import competency_evidence
from inference.models.store import ModelFiles
from inference.speech.accuracy import error_rate, metric, normalise
from inference.speech.audio import TARGET_RATE, read_wav, resample
from inference.speech.recognizer import Speech
from inference.speech.vosk import SpeechRecognizer
from inference.speech.whisper import WhisperSettings
from kiosk.rigs.speech_samples import Clip, human_speech, speech_set

Samples = npt.NDArray[np.int16]
BLOCK = TARGET_RATE // 10
DECOYS = {"en": ("forklift", "inspection", "overtime", "soldering"),
          "zh-CN": ("叉车", "焊接", "加班", "检验")}
"""Job-like terms nobody in the human clips says: a hit on one is a word the hints invented."""
MACHINE = {"ko": "불량을 발견해서 바로 반장에게 보고했습니다.",
           "zh-CN": "我发现质量问题以后，马上报告给班长。"}


def _answer(clips: list[Clip], seconds: float) -> Samples:
    """Human English clips one after another with 0.6 s pauses, ``seconds`` long."""
    parts: list[Samples] = []
    gap = np.zeros(int(0.6 * TARGET_RATE), dtype=np.int16)
    total = 0
    while total < seconds * TARGET_RATE:
        for c in clips:
            audio = read_wav(c.path)
            x = audio.samples if audio.sample_rate == TARGET_RATE else resample(
                audio.samples, audio.sample_rate)
            parts += [x, gap]
            total += len(x) + len(gap)
    return np.concatenate(parts)[: int(seconds * TARGET_RATE)]


def _ours(speech: Speech, audio: Samples) -> tuple[float, float, float]:
    """(decode wall s, end-of-answer latency s, CPU s) of our streaming pipeline."""
    stream = speech.stream("en")
    cpu, started = time.process_time(), time.perf_counter()
    for i in range(0, len(audio), BLOCK):
        stream.feed(audio[i:i + BLOCK], TARGET_RATE)
    last = time.perf_counter()
    stream.finish()
    done = time.perf_counter()
    return done - started, done - last, time.process_time() - cpu


def _raw(model: Any, audio: Samples) -> tuple[float, float]:
    cpu, started = time.process_time(), time.perf_counter()
    segments, _ = model.transcribe(audio.astype(np.float32) / 32768.0, language="en",
                                   beam_size=5, temperature=0.0, word_timestamps=True,
                                   condition_on_previous_text=False, vad_filter=False)
    list(segments)
    return time.perf_counter() - started, time.process_time() - cpu


def _cost_rows(speech: Speech, raw: Any, clips: list[Clip], quick: bool,
               rss: Any) -> list[Row]:
    rows: list[Row] = []
    plans = [(10.0, 3 if quick else 5), (40.0 if quick else 120.0, 1 if quick else 3)]
    english = [c for c in clips if c.language == "en"]
    for seconds, rounds in plans:
        audio = _answer(english, seconds)
        progress(f"whisper: {seconds:.0f} s answer, {rounds} rounds each side")
        ours = [_ours(speech, audio) for _ in range(rounds)]
        bare = [_raw(raw, audio) for _ in range(rounds)]
        mine, base = median([o[0] for o in ours]), median([b[0] for b in bare])
        cpu = median([o[2] for o in ours]) / median([b[1] for b in bare])
        name = f"{seconds:.0f} s answer"
        rows.append(Row(f"whisper: decode time, {name}", mine, base, ratio(mine, base), "s",
                        "lower", rss(), f"median of {rounds}; CPU-time ratio {cpu:.3f}; ours"
                        " streamed in 0.1 s blocks and cut at pauses, raw given the whole"
                        " answer; int8, 1 thread, beam 5, word times; target ratio <= 1.10"))
        rows.append(Row(f"whisper: real-time factor, {name}", mine / seconds, base / seconds,
                        ratio(mine, base), "x real time", "lower", rss(),
                        "decode time / audio length, one core"))
        late, late_raw = median([o[1] for o in ours]), base
        rows.append(Row(f"whisper: end-of-answer latency, {name}", late, late_raw,
                        ratio(late, late_raw), "s", "lower", rss(),
                        "last block -> final transcript; raw can only start at the end, so"
                        f" its latency is its whole decode; max ours {max(o[1] for o in ours):.2f}"
                        " s; target median < 1.5 s"))
    return rows


def _accuracy_rows(speech: Speech, vosk: SpeechRecognizer | None, clips: list[Clip],
                   label: str, rss: Any) -> list[Row]:
    rows: list[Row] = []
    for language in sorted({c.language for c in clips}):
        mine = [c for c in clips if c.language == language]
        heard = [speech.transcribe_file(c.path, language) for c in mine]
        name = metric(language)
        ours = error_rate([c.text for c in mine], [t.text for t in heard], language)
        qualities = [t.quality for t in heard if t.quality is not None]
        base: float | None = None
        note = "no baseline: vosk has no model for this language (it cannot)"
        if vosk is not None and language in vosk.languages:
            said = [vosk.transcribe_file(c.path, language).text for c in mine]
            base = error_rate([c.text for c in mine], said, language)
            note = "baseline: vosk-model-small-ko on the same clips"
        seconds = sum(t.duration_s for t in heard)
        rows.append(Row(f"whisper: {name} {language}, {label}", ours, base, ratio(ours, base),
                        name, "lower", rss(),
                        f"{note}; {len(mine)} clips, {seconds:.0f} s; recognition quality"
                        f" median {median(qualities) if qualities else float('nan'):.2f},"
                        f" min {min(qualities, default=float('nan')):.2f}"))
    return rows


def _machine_rows(speech: Speech, vosk: SpeechRecognizer, folder: Path, rss: Any) -> list[Row]:
    rows: list[Row] = []
    for language, sentence in MACHINE.items():
        wav = folder / f"machine-{language}.wav"
        voice = "ko" if language == "ko" else "cmn-latn-pinyin"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), sentence], check=True)
        heard = speech.transcribe_file(wav, language)
        ours = error_rate([sentence], [heard.text], language)
        base = None
        note = "no baseline: vosk has no model for this language"
        if language in vosk.languages:
            base = error_rate([sentence], [vosk.transcribe_file(wav, language).text], language)
            note = "baseline: vosk-model-small-ko"
        rows.append(Row(f"whisper: CER {language}, machine voice (espeak-ng), NOT accuracy",
                        ours, base, ratio(ours, base), "CER", "lower", rss(),
                        f"{note}; quality {heard.quality}; a machine voice, reported apart"))
    return rows


def _terms(language: str) -> tuple[str, ...]:
    """Every keyword and synonym of the example job's spoken questions in ``language``."""
    from device.analysis.rubric import vocabulary
    from device.jobs.models import SpokenQuestion
    from device.jobs.package import example_package_path, load_package

    package = load_package(example_package_path())
    terms: list[str] = []
    for item in package.items:
        if isinstance(item, SpokenQuestion):
            terms += vocabulary(item, language, False).hints()
    return tuple(dict.fromkeys(terms))


def _hint_sets(clips: list[Clip], folder: Path) -> list[tuple[str, list[tuple[Clip, tuple[str,
                                                                                      ...]]]]]:
    """(label, [(clip, hints)]): human clips with terms they hold plus job-like decoys, and
    the demo's Mandarin answers in espeak-ng's voice with the example job's own terms."""
    from kiosk.demo.answers import ANSWERS, PACE, VOICES

    human = []
    for c in clips:
        words = [w for w in normalise(c.text, c.language).split() if len(w) > 3]
        said = tuple(dict.fromkeys(sorted(words, key=len, reverse=True)[:2]))
        if c.language.startswith("zh"):
            said = ("这就是我", "真人")
        human.append((c, (*said, *DECOYS.get(c.language, ()))))
    machine = []
    for item, texts in ANSWERS.items():
        text = texts["zh-CN"][0]
        wav = folder / f"hints-{item}.wav"
        subprocess.run(["espeak-ng", "-v", VOICES["zh-CN"], *PACE["zh-CN"], "-w", str(wav),
                        text], check=True)
        machine.append((Clip(wav, "zh-CN", text, "espeak-ng"), _terms("zh-CN")))
    return [("human speech", human), ("machine voice (espeak-ng zh-CN)", machine)]


def _hint_rows(sets: list[tuple[str, list[tuple[Clip, tuple[str, ...]]]]],
               store_speech: dict[str, Any], rss: Any) -> list[Row]:
    """Recall of hinted terms that were said, and hinted terms heard that were never said
    (invented), with the hints off, as hotwords and as a prompt."""
    rows = []
    for label, cases in sets:
        results: dict[str, tuple[int, int, int, int]] = {}
        for mode in ("off", "hotwords", "prompt"):
            speech = Speech(store_speech, WhisperSettings(hints=mode))
            said_total = said_found = invented = unsaid_total = 0
            for clip, hints in cases:
                reference = normalise(clip.text, clip.language).replace(" ", "")
                said = {h for h in hints if normalise(h, clip.language).replace(" ", "")
                        in reference}
                heard = speech.transcribe_file(clip.path, clip.language, hints=hints)
                hits = {m.phrase for m in competency_evidence(heard, "c", hints, ())
                        .keywords_found}
                said_total += len(said)
                said_found += len(hits & said)
                unsaid_total += len(set(hints) - said)
                invented += len(hits - said)
            results[mode] = (said_found, said_total, invented, unsaid_total)
        off = results["off"]
        for mode in ("hotwords", "prompt"):
            found, total, invented, unsaid = results[mode]
            recall = found / total if total else 0.0
            base = off[0] / off[1] if off[1] else 0.0
            rows.append(Row(f"whisper: keyword recall with hints as {mode}, {label}", recall,
                            base, ratio(recall, base), "share", "higher", rss(),
                            f"baseline: no hints; {found}/{total} said terms found ({off[0]}/"
                            f"{off[1]} without); terms never said but heard: {invented} of"
                            f" {unsaid} (without hints: {off[2]})"))
    return rows


def run(quick: bool) -> list[Row]:
    models = model_files()
    files = ModelFiles.open(models.store)
    speech = Speech(files.speech, WhisperSettings())
    speech.preload("en")
    raw = WhisperModel(str(models.whisper), device="cpu", compute_type="int8", cpu_threads=1,
                       local_files_only=True)
    vosk_ref = models.store.get("vosk-model-small-ko").ref()
    vosk = SpeechRecognizer({"ko": models.vosk_ko}, refs={"ko": vosk_ref})
    clips = human_speech(CACHE_DIR, lambda *_: None)
    rows = _accuracy_rows(speech, vosk, clips, "human speech (registries)", peak_rss_mib)
    site = os.environ.get("KIOSK_SPEECH_SET")
    if site:
        rows += _accuracy_rows(speech, vosk, speech_set(Path(site)), f"site set {site}",
                               peak_rss_mib)
    folder = CACHE_DIR / "whisper-bench"
    folder.mkdir(parents=True, exist_ok=True)
    rows += _machine_rows(speech, vosk, folder, peak_rss_mib)
    rows += _cost_rows(speech, raw, clips, quick, peak_rss_mib)
    rows += _hint_rows(_hint_sets(clips if not quick else clips[:4], folder), files.speech,
                       peak_rss_mib)
    return rows
