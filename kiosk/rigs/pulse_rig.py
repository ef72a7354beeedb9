"""A private PulseAudio daemon with a null sink, to feed known audio to the microphone code.

The daemon runs in its own ``XDG_RUNTIME_DIR`` (a fresh 0700 directory, set in this
process's environment while the rig runs, so PortAudio's ``pulse`` and ``default`` devices
reach it). It has one null sink, ``kiosk``, whose monitor is the default source: what
:meth:`PulseRig.play` sends to the sink is what a microphone opened on ``pulse`` hears.
:meth:`PulseRig.kill` takes the daemon away mid-stream, as an unplugged device would;
:meth:`PulseRig.freeze` stops it dead (a hung server: streams stay open, nothing flows) and
:meth:`PulseRig.suspend` suspends the sink (a device that never delivers).

``kiosk demo`` plays the scripted candidate's spoken answers through it into the real
microphone path; the audio tests (``tests/pulse_fixture.py``) and
``benchmarks/bench_capture.py`` use it too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

SINK = "kiosk"
SOURCE = f"{SINK}.monitor"
INSTALL_HINT = "run `make system-packages` (Debian: pulseaudio, pulseaudio-utils)"
#: Environment the rig replaces while it runs (restored afterwards).
_ENV_KEYS = ("XDG_RUNTIME_DIR", "PULSE_SERVER", "PULSE_RUNTIME_PATH", "PULSE_CLIENTCONFIG")


class PulseRigError(RuntimeError):
    """The PulseAudio daemon or its tools are missing, or would not start or play."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PulseRigError(f"{name} is not installed: {INSTALL_HINT}")
    return path


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


class PulseRig:
    """One private PulseAudio daemon; ``start()`` it, ``stop()`` it when done."""

    def __init__(self) -> None:
        self.pulseaudio = _tool("pulseaudio")
        self.pactl = _tool("pactl")
        self.paplay = _tool("paplay")
        self.runtime_dir: Path | None = None
        self.pid: int | None = None
        self._saved_env: dict[str, str | None] = {}

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> PulseRig:
        """Create the runtime directory, point this process at it and start the daemon."""
        if self.runtime_dir is not None:
            raise PulseRigError("the PulseAudio rig is already started")
        runtime = Path(tempfile.mkdtemp(prefix="kiosk-pulse-"))
        runtime.chmod(0o700)
        self.runtime_dir = runtime
        # As root libpulse never autospawns a daemon; as anyone else it would, the moment
        # ours is killed. A client.conf of our own keeps a killed daemon dead.
        client_conf = runtime / "client.conf"
        client_conf.write_text("autospawn = no\n", encoding="utf-8")
        self._saved_env = {key: os.environ.get(key) for key in _ENV_KEYS}
        for key in _ENV_KEYS:
            os.environ.pop(key, None)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        os.environ["PULSE_CLIENTCONFIG"] = str(client_conf)
        try:
            self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def _env(self) -> dict[str, str]:
        if self.runtime_dir is None:
            raise PulseRigError("the PulseAudio rig is not started")
        return {**os.environ, "XDG_RUNTIME_DIR": str(self.runtime_dir),
                "PULSE_CLIENTCONFIG": str(self.runtime_dir / "client.conf")}

    def _launch(self) -> None:
        env = self._env()
        assert self.runtime_dir is not None
        log_path = self.runtime_dir / "daemon.log"
        with open(log_path, "ab") as log:
            done = subprocess.run(
                [self.pulseaudio, "-n", "--daemonize=yes", "--exit-idle-time=-1",
                 "--load=module-native-protocol-unix",
                 f"--load=module-null-sink sink_name={SINK}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, timeout=30,
                check=False)
        if done.returncode != 0:
            raise PulseRigError(f"pulseaudio exited with status {done.returncode}:"
                                f" {self._log_tail()}")
        pid_file = self.runtime_dir / "pulse" / "pid"
        deadline = time.monotonic() + 10
        problem = ""
        while time.monotonic() < deadline:
            result = subprocess.run([self.pactl, "set-default-source", SOURCE], env=env,
                                    capture_output=True, text=True, timeout=10, check=False)
            if result.returncode == 0 and pid_file.exists():
                self.pid = int(pid_file.read_text().strip())
                return
            problem = result.stderr.strip()
            time.sleep(0.05)
        raise PulseRigError(f"PulseAudio did not come up in 10 s (pactl: {problem});"
                            f" {self._log_tail()}")

    def _log_tail(self) -> str:
        if self.runtime_dir is None:
            return ""
        try:
            text = (self.runtime_dir / "daemon.log").read_text(errors="replace").strip()
        except OSError:
            return "no daemon log"
        return "daemon log: " + (text[-1500:] or "empty")

    @property
    def alive(self) -> bool:
        return self.pid is not None and _alive(self.pid)

    def kill(self) -> None:
        """SIGKILL the daemon, as if the device vanished; returns once it is gone."""
        if self.pid is None:
            raise PulseRigError("the PulseAudio daemon is not running")
        self._signal(signal.SIGKILL)

    def suspend(self, suspended: bool = True) -> None:
        """Suspend the sink and so its monitor (streams stay open, nothing flows), or resume."""
        result = subprocess.run([self.pactl, "suspend-sink", SINK, "1" if suspended else "0"],
                                env=self._env(), capture_output=True, text=True, timeout=10,
                                check=False)
        if result.returncode != 0:
            raise PulseRigError(f"pactl suspend-sink failed: {result.stderr.strip()}")

    def freeze(self) -> None:
        """SIGSTOP the daemon: streams stay open but nothing flows (a stalled device)."""
        if self.pid is None:
            raise PulseRigError("the PulseAudio daemon is not running")
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT a frozen daemon."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)

    def restart(self) -> None:
        """Start the daemon again (killing it first if it still runs), same directory."""
        if self.alive:
            self._signal(signal.SIGKILL)
        if self.runtime_dir is not None:
            # The killed daemon may linger as a zombie for a moment, and a pid file naming a
            # process that exists makes the new daemon refuse to start.
            (self.runtime_dir / "pulse" / "pid").unlink(missing_ok=True)
        self._launch()

    def stop(self) -> None:
        """Stop the daemon by its pid, remove the directory, restore the environment."""
        if self.pid is not None and _alive(self.pid):
            self.thaw()
            self._signal(signal.SIGTERM, wait_s=5)
            if _alive(self.pid):
                self._signal(signal.SIGKILL)
        self.pid = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        if self.runtime_dir is not None:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
            self.runtime_dir = None

    def _signal(self, sig: signal.Signals, wait_s: float = 10) -> None:
        pid = self.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while _alive(pid):
            if time.monotonic() > deadline:
                if sig == signal.SIGKILL:
                    raise PulseRigError(f"PulseAudio (pid {pid}) survived SIGKILL")
                return
            time.sleep(0.01)

    def __enter__(self) -> PulseRig:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- sound ----------------------------------------------------------------------------

    def play(self, wav: Path) -> subprocess.Popen[bytes]:
        """Start playing a WAV file into the null sink (``paplay -d kiosk``)."""
        if not Path(wav).is_file():
            raise PulseRigError(f"{wav}: no such file to play")
        return subprocess.Popen([self.paplay, "-d", SINK, str(wav)], env=self._env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)

    def play_and_wait(self, wav: Path, timeout_s: float = 120) -> None:
        """Play a WAV file to its end (the sink has taken every sample when this returns)."""
        proc = self.play(wav)
        try:
            _, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise PulseRigError(f"paplay {wav} did not finish in {timeout_s:g} s") from None
        if proc.returncode != 0:
            raise PulseRigError(f"paplay {wav} failed with status {proc.returncode}:"
                                f" {err.decode(errors='replace').strip()}")
