"""The microphone through PortAudio, fed real sound by a private PulseAudio daemon.

What the rig plays into its null sink is what ``Microphone(microphone="pulse")`` hears, so
the recordings can be compared with the played files sample by sample: length, level and
the normalised cross-correlation peak. The WAV writer and the device choice are also tested
on their own, without a sound server.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from wav_fixtures import tone, write_wav

from device.capture.audio import LEVEL_FLOOR_DBFS, STARTUP_GRACE_S, Microphone
from device.capture.base import DeviceUnavailable
from device.capture.devices import AudioDevice, choose_input, list_microphones
from device.capture.wavfile import HEADER_BYTES, WavError, WavWriter, repair_wav
from device.config import CaptureConfig
from inference.speech.audio import rms_dbfs
from kiosk.rigs.pulse_rig import PulseRig, PulseRigError

ROOT = Path(__file__).resolve().parents[3]
RATE = 16_000
BLOCK_FRAMES = RATE * 50 // 1000  # the default 50 ms blocks
Samples = npt.NDArray[np.int16]

integration = pytest.mark.integration


# -- helpers ----------------------------------------------------------------------------


def read_samples(path: Path) -> Samples:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
        data = w.readframes(w.getnframes())
        assert len(data) == w.getnframes() * 2, "the header claims more audio than the file has"
    return np.frombuffer(data, dtype=np.int16)


def aligned(recorded: Samples, played: Samples) -> tuple[float, int, npt.NDArray[np.float64]]:
    """Where ``played`` lies in ``recorded``: the normalised cross-correlation peak, the lag
    (samples; negative when the recording starts after the sound did) and the recorded
    stretch under it. A null sink rewinds for a new stream, so the first few tens of
    milliseconds of a sound may fall before the monitor's audio: negative lags count."""
    pad = len(played)
    rec = np.concatenate([np.zeros(pad), recorded.astype(np.float64), np.zeros(pad)])
    ref = played.astype(np.float64)
    size = 1 << (len(rec) + len(ref)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(rec, size) * np.conj(np.fft.rfft(ref, size)), size)
    corr = corr[: len(rec) - len(ref) + 1]
    at = int(np.argmax(corr))
    segment = rec[at : at + len(ref)]
    energy = math.sqrt(float(np.sum(segment**2)) * float(np.sum(ref**2)))
    return (float(corr[at]) / energy if energy else 0.0), at - pad, segment


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(0.01)


def opened(lost: Callable[[str], None] | None = None, **settings: Any) -> Microphone:
    """A microphone on the rig's ``pulse`` device, open and delivering blocks."""
    mic = Microphone(CaptureConfig(microphone="pulse", **settings))
    mic.open(lost)
    try:
        # an idle null sink hands its monitor's first audio over in steps of up to 2 s
        wait_for(lambda: mic.stats().blocks > 0, 10, "the first block from 'pulse'")
    except BaseException:
        mic.close()
        raise
    return mic


class LostLog:
    """Collects on_lost calls."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.called = threading.Event()

    def __call__(self, reason: str) -> None:
        self.reasons.append(reason)
        self.called.set()


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, crema_clips: dict[str, Path]) -> Path:
    out = tmp_path_factory.mktemp("played")
    write_wav(out / "sine.wav", tone(440, RATE, 1.5), RATE)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(crema_clips["NEU"]), "-vn",
                    "-ac", "1", "-ar", str(RATE), "-sample_fmt", "s16", str(out / "speech.wav")],
                   check=True, timeout=60)
    write_wav(out / "tone-2s.wav", tone(1000, RATE, 2.0), RATE)
    write_wav(out / "tone-6s.wav", tone(700, RATE, 6.0), RATE)
    return out


@pytest.fixture(scope="module")
def mic(pulse: PulseRig) -> Iterator[Microphone]:
    """One microphone on the session's daemon, shared by the tests that do not break it."""
    m = opened()
    yield m
    m.close()


# -- the WAV writer ---------------------------------------------------------------------


def header_frames(path: Path) -> int:
    with wave.open(str(path), "rb") as w:
        return w.getnframes()


def test_wav_header_is_valid_from_the_first_byte_and_updated_every_second(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    audio = tone(300, RATE, 2.5)
    writer = WavWriter(path, RATE, 1)
    assert header_frames(path) == 0  # an empty but valid file before any audio
    writer.write(audio[: RATE // 2].tobytes())
    assert header_frames(path) == 0  # half a second: the header has not moved yet
    writer.write(audio[RATE // 2 : RATE + 800].tobytes())
    assert header_frames(path) == RATE + 800  # past a second: data synced, sizes updated
    np.testing.assert_array_equal(read_samples(path), audio[: RATE + 800])
    writer.write(audio[RATE + 800 :].tobytes())
    assert header_frames(path) == len(audio)  # another 1.4 s in one write: updated again
    assert writer.close() == len(audio)
    assert writer.close() == len(audio)  # closing twice is harmless
    np.testing.assert_array_equal(read_samples(path), audio)


def test_wav_writer_refuses_partial_frames_and_writes_after_close(tmp_path: Path) -> None:
    writer = WavWriter(tmp_path / "b.wav", RATE, 2)
    with pytest.raises(ValueError, match="3 bytes is not a whole number of 4-byte frames"):
        writer.write(b"abc")
    writer.close()
    with pytest.raises(ValueError, match="write to a closed recording"):
        writer.write(b"abcd")
    with pytest.raises(ValueError, match="sample width 5 bytes: expected 1 to 4"):
        WavWriter(tmp_path / "c.wav", RATE, 1, sample_width=5)
    with pytest.raises(ValueError, match="flush interval 0 s: must be positive"):
        WavWriter(tmp_path / "d.wav", RATE, 1, flush_interval_s=0)


def test_wav_writer_pads_an_odd_data_chunk(tmp_path: Path) -> None:
    path = tmp_path / "odd.wav"
    with WavWriter(path, 8000, 1, sample_width=1) as writer:
        writer.write(bytes(range(101)))
    assert path.stat().st_size == HEADER_BYTES + 102
    with wave.open(str(path), "rb") as w:
        assert (w.getnframes(), w.getsampwidth()) == (101, 1)
        assert w.readframes(101) == bytes(range(101))


def test_repair_recovers_the_audio_after_the_last_header_update(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    audio = tone(500, RATE, 1.6)
    with WavWriter(path, RATE, 1) as writer:
        writer.write(audio.tobytes())
    # a power cut 1.6 s in: the header last said 1 s, and the last sample is half written
    data = bytearray(path.read_bytes()[:-1])
    data[4:8] = struct.pack("<I", 36 + 2 * RATE)
    data[40:44] = struct.pack("<I", 2 * RATE)
    path.write_bytes(bytes(data))
    assert header_frames(path) == RATE
    assert repair_wav(path) == pytest.approx((len(audio) - 1) / RATE)
    np.testing.assert_array_equal(read_samples(path), audio[:-1])
    assert path.stat().st_size == HEADER_BYTES + 2 * (len(audio) - 1)
    assert repair_wav(path) == pytest.approx((len(audio) - 1) / RATE)  # idempotent


def test_repair_finds_the_data_chunk_after_other_chunks(tmp_path: Path) -> None:
    path = tmp_path / "list.wav"
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 2, 8000, 32000, 4, 16)
    info = struct.pack("<4sI", b"LIST", 5) + b"INFOx\0"  # odd size: padded
    samples = bytes(range(40)) + b"\1\2"  # 10 stereo frames and a partial one
    path.write_bytes(struct.pack("<4sI4s", b"RIFF", 0, b"WAVE") + fmt + info
                     + struct.pack("<4sI", b"data", 0) + samples)
    assert repair_wav(path) == pytest.approx(10 / 8000)
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getnframes()) == (2, 10)
        assert w.readframes(10) == bytes(range(40))


def test_repair_of_a_file_cut_inside_its_header_says_nothing_was_recorded(tmp_path: Path) -> None:
    path = tmp_path / "early.wav"
    WavWriter(path, RATE, 1).close()
    full = path.read_bytes()
    for cut in (0, 3, 12, 30, 43):
        path.write_bytes(full[:cut])
        assert repair_wav(path) is None, cut
    path.write_bytes(full)
    assert repair_wav(path) == 0.0


def test_repair_refuses_what_is_not_a_pcm_wav(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"ID3\x04" + bytes(100))
    with pytest.raises(WavError, match="not a RIFF/WAVE file"):
        repair_wav(path)
    path.write_bytes(struct.pack("<4sI4s", b"RIFF", 100, b"AVI ") + bytes(100))
    with pytest.raises(WavError, match="not a RIFF/WAVE file"):
        repair_wav(path)
    floats = struct.pack("<4sIHHIIHH", b"fmt ", 16, 3, 1, RATE, RATE * 4, 4, 32)
    path.write_bytes(struct.pack("<4sI4s", b"RIFF", 0, b"WAVE") + floats
                     + struct.pack("<4sI", b"data", 0) + bytes(64))
    with pytest.raises(WavError, match="not uncompressed PCM \\(format 3"):
        repair_wav(path)
    path.write_bytes(struct.pack("<4sI4s", b"RIFF", 0, b"WAVE")
                     + struct.pack("<4sI", b"data", 0) + bytes(64))
    with pytest.raises(WavError, match="no 'fmt ' chunk"):
        repair_wav(path)


# -- choosing the device ----------------------------------------------------------------

DEVICES = [
    AudioDevice(0, "USB PnP Sound Device: Audio (hw:1,0)", 1, 48000.0, False),
    AudioDevice(1, "sysdefault", 128, 48000.0, False),
    AudioDevice(2, "pulse", 32, 44100.0, False),
    AudioDevice(3, "default", 32, 44100.0, True),
    AudioDevice(5, "Pulse Monitor", 2, 44100.0, False),
]


def test_device_by_index_name_part_or_default() -> None:
    assert choose_input(DEVICES, "2").name == "pulse"
    assert choose_input(DEVICES, "usb pnp").index == 0
    assert choose_input(DEVICES, "PULSE").index == 2  # an exact name wins over a longer one
    assert choose_input(DEVICES, "monitor").index == 5
    assert choose_input(DEVICES, "default").index == 3  # the host's default, not sysdefault
    assert choose_input(DEVICES, " Default ").index == 3


def test_unknown_device_names_what_there_is() -> None:
    for asked in ("webcam mic", "4", "17"):
        with pytest.raises(DeviceUnavailable) as err:
            choose_input(DEVICES, asked)
        message = str(err.value)
        assert f"microphone '{asked}' not found" in message
        assert "0 'USB PnP Sound Device: Audio (hw:1,0)'" in message
        assert "3 'default' (default)" in message
        assert "kiosk devices" in message
    with pytest.raises(DeviceUnavailable, match="microphone 'pulse' cannot be opened: no input"
                       " devices at all"):
        choose_input([], "pulse")


def test_microphone_none_is_refused_without_touching_the_hardware() -> None:
    mic = Microphone(CaptureConfig(microphone="none"))
    with pytest.raises(DeviceUnavailable, match=r'no microphone is configured.*"none"'):
        mic.open()
    assert mic.stats().open is False
    with pytest.raises(DeviceUnavailable, match="not open"):
        mic.start_recording(Path("never.wav"))
    mic.close()


# -- the test rig's own failures --------------------------------------------------------


def test_rig_without_pulseaudio_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing installed here
    with pytest.raises(PulseRigError, match=r"pulseaudio is not installed: run `make"
                       r" system-packages`"):
        PulseRig()


@integration
def test_rig_refuses_to_play_what_cannot_be_played(pulse: PulseRig, tmp_path: Path) -> None:
    with pytest.raises(PulseRigError, match="no such file to play"):
        pulse.play(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a sound file at all")
    with pytest.raises(PulseRigError, match=r"paplay .*junk\.wav failed with status"):
        pulse.play_and_wait(junk)


# -- real audio through PulseAudio ------------------------------------------------------


@integration
def test_lists_the_pulse_devices(pulse: PulseRig) -> None:
    found = {d.name: d for d in list_microphones()}
    assert {"pulse", "default"} <= set(found)
    assert found["default"].is_default
    assert found["pulse"].channels >= 1 and found["pulse"].default_rate > 0


@integration
@pytest.mark.parametrize("name", ["sine.wav", "speech.wav"])
def test_recording_matches_what_was_played(mic: Microphone, media: Path, tmp_path: Path,
                                           pulse: PulseRig, name: str) -> None:
    played = read_samples(media / name)
    path = tmp_path / "answer.wav"
    blocks: list[bytes] = []
    mic.start_recording(path, on_block=blocks.append)
    pulse.play_and_wait(media / name)
    time.sleep(0.2)
    recorded = mic.stop_recording()
    samples = read_samples(path)
    assert recorded.kind == "audio" and recorded.path == path
    assert recorded.frames == len(samples)
    assert recorded.duration_s == pytest.approx(len(played) / RATE, abs=0.5)
    assert b"".join(blocks) == samples.tobytes()  # the live consumer got exactly the file
    peak, lag, segment = aligned(samples, played)
    assert peak > 0.9, f"cross-correlation peak {peak:.3f} at {lag / RATE:.3f} s"
    assert abs(lag) < 0.3 * RATE
    assert rms_dbfs(segment) == pytest.approx(rms_dbfs(played), abs=2.0)


@integration
def test_level_follows_the_sound(mic: Microphone, media: Path, pulse: PulseRig) -> None:
    played = read_samples(media / "tone-2s.wav")
    player = pulse.play(media / "tone-2s.wav")
    try:
        time.sleep(1.0)
        level = mic.level_dbfs
    finally:
        player.wait(timeout=30)
    assert level is not None
    assert level == pytest.approx(rms_dbfs(played), abs=3.0)
    wait_for(lambda: mic.level_dbfs == LEVEL_FLOOR_DBFS, 5, "the level back at the floor")
    assert mic.stats().to_dict()["level_dbfs"] == LEVEL_FLOOR_DBFS


@integration
def test_header_valid_after_each_flush_and_a_cut_copy_repairs(
    mic: Microphone, media: Path, tmp_path: Path, pulse: PulseRig
) -> None:
    path = tmp_path / "growing.wav"
    cut = tmp_path / "cut.wav"
    seen: list[int] = []
    player = pulse.play(media / "tone-6s.wav")
    try:
        mic.start_recording(path)
        started = time.monotonic()
        copied_frames = None
        while time.monotonic() - started < 3.4:
            seen.append(len(read_samples(path)))  # the header, read while it is written
            if copied_frames is None and time.monotonic() - started > 2.6:
                shutil.copyfile(path, cut)  # what a power cut now would leave
                copied_frames = header_frames(cut)
            time.sleep(0.05)
        recorded = mic.stop_recording()
    finally:
        player.kill()
        player.wait()
    updates = sorted(set(seen))
    assert seen == sorted(seen)
    written = [f for f in updates if f > 0]
    assert len(written) >= 2, updates
    assert all(f % BLOCK_FRAMES == 0 for f in written), updates
    assert all(b - a >= RATE for a, b in pairwise(written)), updates
    # cut oddly: a partial sample at the end
    with open(cut, "r+b") as f:
        f.truncate(os.path.getsize(cut) - 3)
    assert copied_frames is not None
    duration = repair_wav(cut)
    assert duration is not None
    repaired = read_samples(cut)
    assert len(repaired) >= copied_frames
    assert duration == pytest.approx(len(repaired) / RATE)
    final = read_samples(path)
    assert recorded.frames == len(final) > len(repaired)
    np.testing.assert_array_equal(repaired, final[: len(repaired)])


@integration
def test_unknown_device_lists_the_real_devices(pulse: PulseRig) -> None:
    for asked in ("no-such-microphone", "42"):
        mic = Microphone(CaptureConfig(microphone=asked))
        with pytest.raises(DeviceUnavailable) as err:
            mic.open()
        assert f"microphone '{asked}' not found" in str(err.value)
        assert "'pulse'" in str(err.value) and "'default' (default)" in str(err.value)
        assert mic.stats().open is False


@integration
def test_format_the_device_refuses(pulse: PulseRig) -> None:
    # [capture] allows 1 or 2 channels; 40 is asked here (validation bypassed) because
    # every format the configuration allows is one PulseAudio takes
    config = CaptureConfig(microphone="pulse").model_copy(update={"channels": 40})
    with pytest.raises(DeviceUnavailable, match=r"microphone 'pulse' \(0 'pulse'\) does not take"
                       r" 16000 Hz, 40 channel\(s\), 16-bit: .*input devices: 0 'pulse'"):
        Microphone(config).open()


NO_DEVICES_CHILD = r"""
import json
from device.capture.audio import Microphone
from device.capture.base import DeviceUnavailable
from device.capture.devices import list_microphones
from device.config import CaptureConfig

try:
    Microphone(CaptureConfig()).open()
    error = None
except DeviceUnavailable as exc:
    error = str(exc)
print(json.dumps([[d.name for d in list_microphones()], error]))
"""


@integration
def test_no_input_devices_at_all(tmp_path: Path) -> None:
    # in a process of its own: PortAudio lists the devices once per process while any
    # stream is open, and this process has the shared microphone open
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    (tmp_path / "client.conf").write_text("autospawn = no\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_RUNTIME_DIR": str(runtime),
           "PULSE_CLIENTCONFIG": str(tmp_path / "client.conf")}  # no sound server there
    env.pop("PULSE_SERVER", None)
    done = subprocess.run([sys.executable, "-c", NO_DEVICES_CHILD], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    names, error = json.loads(done.stdout.splitlines()[-1])
    assert names == []
    assert error == ("microphone 'default' cannot be opened: no input devices at all (is the"
                     " microphone plugged in, and the sound server running?)")


@integration
def test_nothing_before_start_or_after_stop_is_recorded(
    mic: Microphone, media: Path, tmp_path: Path, pulse: PulseRig
) -> None:
    pulse.play_and_wait(media / "tone-2s.wav")  # before the answer: must not be kept
    time.sleep(0.3)
    path = tmp_path / "after-consent.wav"
    mic.start_recording(path)
    time.sleep(1.0)
    recorded = mic.stop_recording()
    size = path.stat().st_size
    pulse.play_and_wait(media / "sine.wav")  # after the answer: must not be kept either
    samples = read_samples(path)
    assert recorded.duration_s == pytest.approx(1.0, abs=0.3)
    assert int(np.max(np.abs(samples.astype(np.int32)))) < 50, "the tone played before start"
    assert path.stat().st_size == size


@integration
def test_recording_misuse_is_refused(mic: Microphone, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not recording"):
        mic.stop_recording()
    mic.start_recording(tmp_path / "one.wav")
    try:
        with pytest.raises(RuntimeError, match=r"already recording to .*one\.wav"):
            mic.start_recording(tmp_path / "two.wav")
    finally:
        mic.stop_recording()
    assert not (tmp_path / "two.wav").exists()
    mic.open()  # already open: nothing changes
    assert mic.stats().open


@integration
def test_close_finishes_the_recording_and_is_idempotent(pulse: PulseRig, tmp_path: Path) -> None:
    mic = opened()
    path = tmp_path / "closing.wav"
    mic.start_recording(path)
    time.sleep(0.5)
    mic.close()
    mic.close()
    assert mic.stats().open is False
    assert len(read_samples(path)) == pytest.approx(RATE / 2, abs=RATE / 5)
    with pytest.raises(DeviceUnavailable, match="not open"):
        mic.start_recording(tmp_path / "later.wav")


@integration
def test_slow_consumer_drops_blocks_but_never_stalls_capture(
    pulse: PulseRig, media: Path, tmp_path: Path
) -> None:
    mic = opened(buffer_s=0.1)  # room for two 50 ms blocks
    assert mic.capacity == 2
    handed: list[bytes] = []

    def slow(block: bytes) -> None:
        handed.append(block)
        time.sleep(0.15)  # three times slower than the sound arrives

    path = tmp_path / "slow.wav"
    try:
        player = pulse.play(media / "tone-6s.wav")
        blocks_before = mic.stats().blocks
        mic.start_recording(path, on_block=slow)
        started = time.monotonic()
        time.sleep(2.0)
        elapsed = time.monotonic() - started
        recorded = mic.stop_recording()
        stats = mic.stats()
        player.kill()
        player.wait()
    finally:
        mic.close()
    arrived = stats.blocks - blocks_before
    assert arrived >= 0.8 * elapsed / 0.05, f"{arrived} blocks in {elapsed:.2f} s: capture stalled"
    assert stats.dropped_blocks > 0
    assert len(handed) < arrived
    # dropped blocks are silence in the file: it keeps the answer's length
    assert recorded.duration_s == pytest.approx(elapsed, abs=0.3)
    assert len(read_samples(path)) == recorded.frames


@integration
def test_failing_live_consumer_is_logged_once_and_recording_goes_on(
    mic: Microphone, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def broken(block: bytes) -> None:
        calls.append(len(block))
        raise RuntimeError("recogniser crashed")

    path = tmp_path / "answer.wav"
    with caplog.at_level(logging.ERROR, logger="device.capture.audio"):
        mic.start_recording(path, on_block=broken)
        time.sleep(1.0)
        recorded = mic.stop_recording()
    failures = [r for r in caplog.records if "live consumer" in r.getMessage()]
    assert len(failures) == 1 and len(calls) > 5
    assert "recogniser crashed" in caplog.text
    assert recorded.duration_s == pytest.approx(1.0, abs=0.3)
    assert len(read_samples(path)) == recorded.frames


@integration
def test_daemon_killed_mid_recording(fresh_pulse: PulseRig, media: Path, tmp_path: Path) -> None:
    lost = LostLog()
    mic = opened(lost)
    path = tmp_path / "cut-off.wav"
    try:
        player = fresh_pulse.play(media / "tone-6s.wav")
        mic.start_recording(path)
        time.sleep(1.5)
        fresh_pulse.kill()
        killed_after = 1.5
        assert lost.called.wait(3), "on_lost was not called"
        time.sleep(0.5)
        player.wait(timeout=10)
        assert len(lost.reasons) == 1, lost.reasons
        reason = lost.reasons[0]
        assert reason.startswith("the microphone 'pulse' stopped delivering sound")
        assert "sound server stopped" in reason
        stats = mic.stats()
        assert stats.lost == reason and stats.open is False
        recorded = mic.stop_recording()
        samples = read_samples(path)  # a valid WAV with what was captured
        assert recorded.frames == len(samples)
        assert recorded.duration_s == pytest.approx(killed_after, abs=0.5)
        assert rms_dbfs(samples[RATE // 2 : RATE]) > -20  # the tone is in it
        with pytest.raises(DeviceUnavailable, match="stopped delivering sound"):
            mic.start_recording(tmp_path / "again.wav")
        # the sound server is back: opening again recovers
        fresh_pulse.restart()
        mic.open(lost)
        wait_for(lambda: mic.stats().blocks > 0, 10, "blocks after the restart")
        assert mic.stats().lost is None and mic.stats().open
        mic.start_recording(tmp_path / "recovered.wav")
        time.sleep(0.3)
        assert mic.stop_recording().frames > 0
        assert len(lost.reasons) == 1
    finally:
        mic.close()


@integration
def test_stalled_device_is_lost_and_close_does_not_hang(fresh_pulse: PulseRig,
                                                       tmp_path: Path) -> None:
    lost = LostLog()
    mic = opened(lost, lost_after_s=0.5)
    path = tmp_path / "stalled.wav"
    try:
        mic.start_recording(path)
        time.sleep(0.5)
        fresh_pulse.freeze()  # streams stay open, nothing flows
        assert lost.called.wait(3), "a silent device was not noticed"
        assert lost.reasons == [
            "the microphone 'pulse' stopped delivering sound (nothing arrived for 0.5 s)"]
        recorded = mic.stop_recording()
        assert recorded.duration_s == pytest.approx(0.5, abs=0.3)
        assert len(read_samples(path)) == recorded.frames
        started = time.monotonic()
        mic.close()
        assert time.monotonic() - started < 4, "close() hung on a stalled device"
    finally:
        fresh_pulse.thaw()
        mic.close()


@integration
def test_device_that_never_delivers_is_lost_after_the_start_up_grace(
    fresh_pulse: PulseRig,
) -> None:
    fresh_pulse.suspend()  # the stream connects, but no audio will ever come
    lost = LostLog()
    mic = Microphone(CaptureConfig(microphone="pulse", lost_after_s=0.5))

    def close_at_once(reason: str) -> None:  # what a session does: let the device go
        mic.close()
        lost(reason)

    try:
        mic.open(close_at_once)
        opened_at = time.monotonic()
        assert lost.called.wait(STARTUP_GRACE_S + 3), "a device that never delivered"
        waited = time.monotonic() - opened_at
        assert mic.stats().blocks == 0
        assert lost.reasons == ["the microphone 'pulse' stopped delivering sound (nothing"
                                f" arrived in {0.5 + STARTUP_GRACE_S:g} s after opening it)"]
        assert waited >= STARTUP_GRACE_S  # not taken for lost while it starts up
        assert mic.stats().open is False
    finally:
        mic.close()
        fresh_pulse.suspend(False)


WRITE_FAILURE_CHILD = r"""
import json, resource, signal, sys, threading, time
from pathlib import Path
from device.capture.audio import Microphone
from device.config import CaptureConfig

path, limit = Path(sys.argv[1]), int(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
lost, gone = [], threading.Event()
mic = Microphone(CaptureConfig(microphone="pulse"))
mic.open(lambda reason: (lost.append(reason), gone.set()))
deadline = time.monotonic() + 10
while mic.stats().blocks == 0 and time.monotonic() < deadline:
    time.sleep(0.02)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
mic.start_recording(path)
gone.wait(10)
recorded = mic.stop_recording()
stats = mic.stats()
mic.close()
print(json.dumps({"lost": lost, "frames": recorded.frames, "open": stats.open}))
"""


@integration
def test_a_recording_that_cannot_be_written_is_closed_and_reported(pulse: PulseRig,
                                                                   tmp_path: Path) -> None:
    path = tmp_path / "full.wav"
    limit = HEADER_BYTES + 3 * RATE  # room for 1.5 s: the write after the 1 s update fails
    done = subprocess.run([sys.executable, "-c", WRITE_FAILURE_CHILD, str(path), str(limit)],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert len(out["lost"]) == 1
    assert out["lost"][0].startswith(f"the recording {path} from the microphone 'pulse' could"
                                     " not be written: [Errno 27] File too large")
    assert out["open"] is False
    assert out["frames"] == RATE  # what the header had accounted for before the failure
    assert len(read_samples(path)) == RATE
    assert path.stat().st_size <= limit


@integration
def test_portaudio_starts_without_noise_on_stderr(pulse: PulseRig) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("JACK_NO_START_SERVER", None)
    raw = subprocess.run([sys.executable, "-c", "import pyaudio; pyaudio.PyAudio().terminate()"],
                         env=env, capture_output=True, text=True, timeout=60, check=False)
    assert "ALSA lib" in raw.stderr  # what PortAudio prints when left alone
    ours = subprocess.run(
        [sys.executable, "-c", "import json, os\n"
         "from device.capture.devices import list_microphones\n"
         "names = [d.name for d in list_microphones()]\n"
         "print(json.dumps([names, os.environ.get('JACK_NO_START_SERVER')]))"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert ours.returncode == 0, ours.stderr
    assert ours.stderr == ""
    names, jack = json.loads(ours.stdout)
    assert "pulse" in names and jack == "1"
