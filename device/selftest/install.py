"""Installing the default models from the staff API: one background install per model store.

The work is :func:`inference.models.installer.install` (release files pinned by sha256, verified
installs kept as they are), run on a thread of its own; the request that starts it returns
at once and staff poll the progress. A second install into the same store while one runs
is refused (409).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.errors import KioskError
from inference.models.manifest import ModelSpec
from inference.models.store import ModelStore

log = logging.getLogger(__name__)

Installer = Callable[..., Any]


class InstallRunningError(KioskError):
    """A model install into this store is already running."""

    status = 409
    code = "install-running"


@dataclass
class InstallState:
    state: str = "idle"  # idle | running | done | failed
    current: str | None = None
    done_bytes: int = 0
    total_bytes: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "current": self.current, "done_bytes": self.done_bytes,
                "total_bytes": self.total_bytes, "error": self.error}


class InstallJob:
    """The install into one model store: its state, and the thread doing it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._state = InstallState()
        self._thread: threading.Thread | None = None

    def status(self) -> dict[str, Any]:
        with self._lock:
            return self._state.to_dict()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._state.state == "running"

    def start(self, specs: Iterable[ModelSpec], installer: Installer | None = None,
              download_dir: Path | None = None) -> dict[str, Any]:
        """Start installing ``specs``; the state at once (InstallRunningError if running)."""
        wanted = list(specs)
        with self._lock:
            if self._state.state == "running":
                raise InstallRunningError(
                    f"a model install into {self.root} is already running"
                    f" ({self._state.current or 'starting'}); wait for it to finish")
            self._state = InstallState(state="running", current="starting")
            self._thread = threading.Thread(
                target=self._run, args=(wanted, installer, download_dir),
                name="models-install", daemon=True)
            self._thread.start()
            return self._state.to_dict()

    def wait(self, timeout_s: float | None = None) -> dict[str, Any]:
        """Wait for the running install to end (for scripts and tests); the final state."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return self.status()

    def _progress(self, label: str, done: int, total: int | None) -> None:
        with self._lock:
            self._state.current = label
            self._state.done_bytes = done
            self._state.total_bytes = total or 0

    def _run(self, specs: list[ModelSpec], installer: Installer | None,
             download_dir: Path | None) -> None:
        if installer is None:
            from inference.models.installer import install

            installer = install
        try:
            results = installer(ModelStore(self.root), specs, download_dir=download_dir,
                                progress=self._progress)
        except Exception as exc:  # the install's failure is its state, read by staff
            log.error("model install into %s failed: %s", self.root, exc)
            with self._lock:
                self._state.state = "failed"
                self._state.error = str(exc) or type(exc).__name__
            return
        changed = sum(1 for _, c in results if c)
        log.info("model install into %s done: %d model(s), %d changed", self.root,
                 len(results), changed)
        with self._lock:
            self._state.state = "done"
            self._state.current = None


_jobs: dict[Path, InstallJob] = {}
_jobs_lock = threading.Lock()


def job_for(root: Path) -> InstallJob:
    """The install job of the model store at ``root`` (one per store in this process)."""
    key = root.expanduser().resolve()
    with _jobs_lock:
        found = _jobs.get(key)
        if found is None:
            found = _jobs[key] = InstallJob(key)
        return found


def installed(root: Path) -> list[dict[str, Any]]:
    """The installed models, as ``GET /models`` lists them."""
    return [{"name": m.name, "kind": m.spec.kind, "language": m.spec.language,
             "version": m.spec.version, "size": m.size}
            for m in ModelStore(root).installed()]
