"""The analysis process: model load time and peak memory with every model loaded.

Each side runs in a fresh Python process, so its peak RSS is its own. Ours: the device's
``load_analyzer`` path (verify every model file against the store's index, load the vosk
model and the three TFLite models) and then one spoken answer analysed end to end (a
CREMA-D clip: audio extracted, transcribed, faces and expression on sampled frames).
Baseline: a bare ``vosk.Model`` and three bare ``Interpreter`` + ``allocate_tensors`` from
the same files, with the same clip transcribed by a bare ``KaldiRecognizer`` and each frame's
three invokes; no verification, no pre/post-processing. Medians over the rounds.
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
from inference.modelstore import ModelFiles, ModelStore
from inference.pipeline import Analyzer, Settings
from inference.content import QuestionVocabulary
files = ModelFiles.open(ModelStore(Path(sys.argv[1])))
t_verify = time.perf_counter() - t0
analyzer = Analyzer(files, Settings(tflite_threads=1))
analyzer.faces(True)
analyzer.speech.preload("ko")
t_load = time.perf_counter() - t0
vocab = QuestionVocabulary(item_id="q", language="ko", evidence=(("c", ("품질",), ()),))
t1 = time.perf_counter()
analyzer.spoken(vocab, audio=None, video=Path(sys.argv[2]), expression=True)
t_analyse = time.perf_counter() - t1
print(json.dumps({"verify_s": t_verify, "load_s": t_load, "analyse_s": t_analyse,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_RAW = r"""
import json, resource, subprocess, sys, time, wave
from pathlib import Path
t0 = time.perf_counter()
import vosk
from ai_edge_litert.interpreter import Interpreter
import cv2, numpy as np
vosk.SetLogLevel(-1)
model = vosk.Model(sys.argv[1])
interps = []
for p in sys.argv[2:5]:
    it = Interpreter(model_path=p, num_threads=1); it.allocate_tensors(); interps.append(it)
t_load = time.perf_counter() - t0
t1 = time.perf_counter()
wav = Path(sys.argv[6])
subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", sys.argv[5], "-vn", "-ac", "1",
                "-ar", "16000", str(wav)], check=True)
rec = vosk.KaldiRecognizer(model, 16000); rec.SetWords(True)
with wave.open(str(wav)) as w:
    rec.AcceptWaveform(w.readframes(w.getnframes()))
rec.FinalResult()
cap = cv2.VideoCapture(sys.argv[5]); n = 0
while True:
    ok, frame = cap.read()
    if not ok: break
    n += 1
    if n % 6: continue
    for it in interps:
        d = it.get_input_details()[0]
        it.set_tensor(d["index"], np.zeros(d["shape"], dtype=np.float32)); it.invoke()
t_analyse = time.perf_counter() - t1
print(json.dumps({"load_s": t_load, "analyse_s": t_analyse,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(quick: bool) -> list[Row]:
    models = model_files()
    clip = crema_clips()["HAP"]
    rounds = 1 if quick else 3
    ours: list[dict[str, float]] = []
    raw: list[dict[str, float]] = []
    wav = Path(models.store.root).parent / "bench-raw.wav"
    for index in range(rounds):
        progress(f"analysis: round {index + 1}/{rounds} (fresh processes)")
        raw_args = (str(models.vosk_ko), str(models.face_detection), str(models.face_landmarks),
                    str(models.expression), str(clip), str(wav))
        if index % 2 == 0:
            ours.append(_run(_OURS, str(models.store.root), str(clip)))
            raw.append(_run(_RAW, *raw_args))
        else:
            raw.append(_run(_RAW, *raw_args))
            ours.append(_run(_OURS, str(models.store.root), str(clip)))

    def med(side: list[dict[str, float]], key: str) -> float:
        return median([r[key] for r in side])

    rss_ours, rss_raw = med(ours, "rss_mib"), med(raw, "rss_mib")
    rows = [
        Row("analysis: load all models (verified)", med(ours, "load_s"), med(raw, "load_s"),
            ratio(med(ours, "load_s"), med(raw, "load_s")), "s", rss_ours,
            f"of which verifying every file's sha256: {med(ours, 'verify_s'):.2f} s"),
        Row("analysis: one 2 s answer end to end", med(ours, "analyse_s"),
            med(raw, "analyse_s"), ratio(med(ours, "analyse_s"), med(raw, "analyse_s")), "s",
            rss_ours, "audio + transcript + faces + expression + metrics; raw: decode+invokes"),
        Row("analysis: peak RSS, all models loaded", rss_ours, rss_raw, ratio(rss_ours, rss_raw),
            "MiB", rss_ours, "fresh process each side"),
    ]
    wav.unlink(missing_ok=True)
    return rows
