"""The analysis process: model load time and peak memory with every model loaded.

Each side runs in a fresh Python process, so its peak RSS is its own. Ours: the device's
``load_analyzer`` path (verify every model file against the store's index, load the Whisper
model and the three TFLite models) and then one spoken answer analysed end to end (a
CREMA-D clip, English: audio extracted, transcribed, faces and expression on sampled
frames). Baseline: a bare ``faster_whisper.WhisperModel`` and three bare ``Interpreter`` +
``allocate_tensors`` from the same files, with the same clip transcribed by a bare
``transcribe`` (same options) and each frame's three invokes; no verification, no
pre/post-processing. Medians over the rounds. The peak RSS is the analysis process's with
Whisper and the vision models loaded (target: under 700 MiB).

Both sides analyse the same frames: the clip's frames at 5 fps (every 6th of 30). The
analyser lowers its frame rate when the machine's load average is high; that feedback
is switched off here (``cpu_load`` reads as unknown), since other processes on a shared
machine would otherwise make ours skip frames the baseline analyses. The frame counts
of both sides are checked to be equal.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.common import Row, crema_clips, median, model_files, progress, ratio

_OURS = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
import inference.pipeline
from inference.models.store import ModelFiles, ModelStore
from inference.pipeline import Analyzer, Settings
from inference.content.answer import QuestionVocabulary
inference.pipeline.cpu_load = lambda: None  # the same frames as the baseline, whatever the load
t_imported = time.perf_counter()
files = ModelFiles.open(ModelStore(Path(sys.argv[1])))
t_verify = time.perf_counter() - t_imported
analyzer = Analyzer(files, Settings(tflite_threads=1))
analyzer.faces(True)
analyzer.speech.preload("en")
t_load = time.perf_counter() - t0
vocab = QuestionVocabulary(item_id="q", language="en", evidence=(("c", ("jacket",), ()),))
t1 = time.perf_counter()
result = analyzer.spoken(vocab, audio=None, video=Path(sys.argv[2]), expression=True)
t_analyse = time.perf_counter() - t1
print(json.dumps({"verify_s": t_verify, "load_s": t_load, "analyse_s": t_analyse,
                  "frames": result.vision.frames_analysed,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_RAW = r"""
import json, resource, subprocess, sys, time, wave
from pathlib import Path
t0 = time.perf_counter()
from faster_whisper import WhisperModel
from ai_edge_litert.interpreter import Interpreter
import cv2, numpy as np
model = WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=1,
                     local_files_only=True)
interps = []
for p in sys.argv[2:5]:
    it = Interpreter(model_path=p, num_threads=1); it.allocate_tensors(); interps.append(it)
t_load = time.perf_counter() - t0
t1 = time.perf_counter()
wav = Path(sys.argv[6])
subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", sys.argv[5], "-vn", "-ac", "1",
                "-ar", "16000", str(wav)], check=True)
with wave.open(str(wav)) as w:
    pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
segments, _ = model.transcribe(pcm, language="en", beam_size=5, temperature=0.0,
                               word_timestamps=True, condition_on_previous_text=False,
                               vad_filter=False, hotwords="jacket")
list(segments)
cap = cv2.VideoCapture(sys.argv[5]); index = frames = 0
step = max(1, round(cap.get(cv2.CAP_PROP_FPS) / 5))  # 5 fps, as the analyser samples
while cap.grab():
    index += 1
    if (index - 1) % step: continue
    ok, frame = cap.retrieve()
    if not ok: break
    frames += 1
    for it in interps:
        d = it.get_input_details()[0]
        it.set_tensor(d["index"], np.zeros(d["shape"], dtype=np.float32)); it.invoke()
t_analyse = time.perf_counter() - t1
print(json.dumps({"load_s": t_load, "analyse_s": t_analyse, "frames": frames,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(quick: bool) -> list[Row]:
    models = model_files()
    clip = crema_clips()["HAP"]
    rounds = 1 if quick else 5
    ours: list[dict[str, float]] = []
    raw: list[dict[str, float]] = []
    wav = Path(models.store.root).parent / "bench-raw.wav"
    for index in range(rounds):
        progress(f"analysis: round {index + 1}/{rounds} (fresh processes)")
        raw_args = (str(models.whisper), str(models.face_detection), str(models.face_landmarks),
                    str(models.expression), str(clip), str(wav))
        if index % 2 == 0:
            ours.append(_run(_OURS, str(models.store.root), str(clip)))
            raw.append(_run(_RAW, *raw_args))
        else:
            raw.append(_run(_RAW, *raw_args))
            ours.append(_run(_OURS, str(models.store.root), str(clip)))

    def med(side: list[dict[str, float]], key: str) -> float:
        return median([r[key] for r in side])

    frames = {(int(o["frames"]), int(r["frames"])) for o, r in zip(ours, raw, strict=True)}
    if len(frames) != 1 or len({n for pair in frames for n in pair}) != 1:
        raise RuntimeError(f"ours and raw analysed different frame counts: {sorted(frames)}")
    analysed = frames.pop()[0]
    rss_ours, rss_raw = med(ours, "rss_mib"), med(raw, "rss_mib")
    load, load_raw = med(ours, "load_s"), med(raw, "load_s")
    answer, answer_raw = med(ours, "analyse_s"), med(raw, "analyse_s")
    each = (f"median of {rounds} fresh processes per side" if rounds > 1
            else "1 fresh process per side")
    rows = [
        Row(benchmark="analysis: load all models (verified)", ours=load, baseline=load_raw,
            ratio=ratio(load, load_raw), unit="s", better="lower", peak_rss_mib=rss_ours,
            notes=f"{each}; of which verifying every file's sha256: "
                  f"{med(ours, 'verify_s'):.2f} s; raw: WhisperModel + 3 Interpreters"),
        Row(benchmark="analysis: one 2 s answer end to end", ours=answer, baseline=answer_raw,
            ratio=ratio(answer, answer_raw), unit="s", better="lower", peak_rss_mib=rss_ours,
            notes=f"{each}; audio + transcript + faces + expression + metrics, {analysed}"
                  " frames; raw: ffmpeg + WhisperModel.transcribe + 3 invokes on the same frames"),
        Row(benchmark="analysis: peak RSS, all models loaded", ours=rss_ours, baseline=rss_raw,
            ratio=ratio(rss_ours, rss_raw), unit="MiB", better="lower", peak_rss_mib=rss_ours,
            notes=f"{each}; Whisper + vision loaded, target < 700 MiB; raw: the bare models"
                  " after the same answer"),
    ]
    wav.unlink(missing_ok=True)
    return rows
