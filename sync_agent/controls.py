"""The delivery settings in force for the agent: the technician's controls (pause, metered,
bandwidth, retry now) read from the store, over central's settings and the box's own."""

from __future__ import annotations

import logging
from collections.abc import Callable

from device.central_link import sync_control as control
from device.config import SyncConfig
from device.errors import StoreError
from device.storage.database import Store
from sync_agent.backoff import Throttle

log = logging.getLogger(__name__)


class DeliveryControls:
    """Metered mode, the bandwidth cap and its throttle, pause and retry requests."""

    def __init__(self, store: Store, sync: SyncConfig, *,
                 monotonic: Callable[[], float]) -> None:
        self.watcher = control.Watcher(store, monotonic=monotonic)
        self.sync = sync
        self.metered = sync.metered
        self.bandwidth_kbps = sync.bandwidth_kbps
        self.throttle = Throttle(self.bandwidth_kbps)

    @property
    def paused(self) -> bool:
        return self.watcher.current.paused

    @property
    def updated_by(self) -> str:
        return self.watcher.current.updated_by or "technician"

    def apply(self, sync: SyncConfig | None = None, *, force: bool = False) -> None:
        """Metered mode and bandwidth in force: the technician's, else the settings'
        (``sync``: central changed them)."""
        if sync is not None:
            self.sync = sync
        current = self.watcher.current
        metered = current.metered_for(self.sync)
        bandwidth = current.bandwidth_for(self.sync)
        if force or bandwidth != self.bandwidth_kbps:
            self.throttle = Throttle(bandwidth)
        if metered != self.metered or bandwidth != self.bandwidth_kbps:
            log.info("delivery settings now: metered %s, bandwidth %s kbit/s", metered,
                     bandwidth or "unlimited")
        self.metered, self.bandwidth_kbps = metered, bandwidth

    def check(self) -> tuple[bool, bool]:
        """Read the technician's controls if due: (pause changed, retry requested)."""
        was_paused = self.paused
        try:
            polled = self.watcher.poll()
        except StoreError as exc:  # a busy database: the controls are read again shortly
            log.warning("cannot read the delivery controls: %s", exc)
            return False, False
        if polled is None:
            return False, False
        current, retry = polled
        changed = current.paused != was_paused
        if changed:
            log.info("delivery %s by %s", "paused" if current.paused else "resumed",
                     self.updated_by)
        self.apply()
        return changed, retry
