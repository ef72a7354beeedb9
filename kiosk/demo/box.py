"""The demo's kiosk box: enrolled with the demo's central, recording through replay devices.

Its configuration is the embedded defaults plus what a demo needs: the data directory of
the run, the models already installed on this machine, the file camera replaying a real
person (CREMA-D) in real time, the microphone hearing the private PulseAudio rig, and
recordings shared with central. The local API (candidate and staff) is served by uvicorn
and the sync agent runs on its own store connection, as the two services do on a box.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from central import ServerThread
from device.api.app import create_app
from device.audit import SYSTEM
from device.capture.devices import stderr_to_debug_log
from device.composition import Kiosk, load_analyzer, open_kiosk
from device.config import KioskConfig
from device.config_loader import load_config
from device.staff import tokens
from device.storage.database import Store
from kiosk.demo.central import DemoCentral
from provisioning.enrol import enrol
from provisioning.for_api import BoxProvisioner
from sync_agent.assembly import build as build_sync

DEVICE_ID = "demo-kiosk-01"


def box_environment(data_dir: Path, models_dir: Path, video: Path, *,
                    port: int) -> dict[str, str]:
    """The demo box's settings, as ``KIOSK_*`` variables over the embedded defaults."""
    return {
        "KIOSK_DATA_DIR": str(data_dir),
        "KIOSK_ANALYSIS_MODELS_DIR": str(models_dir),
        "KIOSK_API_HOST": "127.0.0.1",
        "KIOSK_API_PORT": str(port),
        "KIOSK_CAPTURE_CAMERA": "file",
        "KIOSK_CAPTURE_CAMERA_SOURCE": str(video),
        "KIOSK_CAPTURE_LOOP": "true",
        "KIOSK_CAPTURE_MICROPHONE": "pulse",
        "KIOSK_SYNC_UPLOAD_MEDIA": "true",
        "KIOSK_SYNC_POLL_INTERVAL_S": "2",
        "KIOSK_LOGGING_LEVEL": "WARNING",
    }


def enrol_box(central: DemoCentral, environment: dict[str, str]) -> tuple[KioskConfig, str]:
    """Enrol with a one-time token, as ``kiosk provision enroll`` does; the configuration
    read again afterwards (the enrolment file sets identity and central's addresses)."""
    config = load_config(None, environment)
    outcome = enrol(config, central.enrol_url, central.enrolment_token(DEVICE_ID),
                    ca_file=central.ca.cert)
    return load_config(None, environment), outcome.message


@dataclass
class DemoBox:
    config: KioskConfig
    kiosk: Kiosk
    api: ServerThread
    staff_token: str
    admin_token: str
    sync_store: Store
    _stop: threading.Event = field(default_factory=threading.Event)
    _sync: threading.Thread | None = None

    @classmethod
    def start(cls, config: KioskConfig, job_id: str) -> DemoBox:
        """Load the models, open the kiosk with capture, serve the API, start syncing."""
        analyzer = load_analyzer(config)  # verified, as `kiosk serve` loads them
        with stderr_to_debug_log("TFLite start-up"):  # its INFO line is not for the audience
            analyzer.faces(expression=True)
        kiosk = open_kiosk(config)
        kiosk.analysis.use(analyzer)
        staff = tokens.create(kiosk.store, "demo site HR", "site_hr", [job_id], SYSTEM)
        admin = tokens.create(kiosk.store, "demo technician", "admin", [], SYSTEM)
        app = create_app(kiosk, analyse=True, capture=True, provisioner=BoxProvisioner())
        try:
            api = ServerThread(app, config.api.host, config.api.port,
                               name="the kiosk's local API").start()
        except BaseException:
            kiosk.close()
            raise
        sync_store = Store(config.db_path, busy_timeout_ms=config.store.busy_timeout_ms,
                           mark=config.store_mark_path)
        box = cls(config, kiosk, api, staff.token, admin.token, sync_store)
        service = build_sync(config, sync_store)
        box._sync = threading.Thread(target=service.run, args=(box._stop,), name="sync",
                                     daemon=True)
        box._sync.start()
        return box

    @property
    def url(self) -> str:
        return self.api.url

    def close(self) -> None:
        self._stop.set()
        if self._sync is not None:
            self._sync.join(timeout=15)
        self.api.stop()
        self.kiosk.close()
        self.sync_store.close()
