"""The kiosk's configuration: every setting, its default and its check, in one validated
model passed down (``device.config_loader`` reads it from the file, the enrolment file and
the environment). Nothing here is read at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class DeviceConfig(_Section):
    id: str = Field(
        "kiosk-dev",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="This box's device id (set at enrolment); part of every message id.",
    )
    tenant: str = Field("demo-tenant", min_length=1, description="Tenant (company) id.")
    site: str = Field("demo-site", min_length=1, description="Site (plant, store, hall) id.")


class SiteConfig(_Section):
    time_zone: str = Field(
        "UTC", description="The site's IANA time zone (e.g. Asia/Shanghai): times shown to"
        " people are in it; stored data and messages to central stay in UTC.")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Asia", a directory
            raise ValueError("not an IANA time zone name the box knows, such as"
                             " Asia/Shanghai or UTC") from None
        return name


class ApiConfig(_Section):
    host: str = Field("127.0.0.1", description="Address the local API listens on.")
    port: int = Field(8470, ge=1, le=65535, description="TCP port of the local API.")
    unix_socket: Path | None = Field(
        None, description="Listen on this unix socket instead of host:port when set."
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        le=64 * 1_048_576,
        description="Largest request body the API accepts (bytes); larger ones get 413.",
    )
    forwarded_allow_ips: str = Field(
        "",
        description="Comma-separated proxies (addresses or networks) whose X-Forwarded-For "
                    "and X-Forwarded-Proto headers are believed; empty: none are.",
    )


class StaffPageConfig(_Section):
    idle_min: float = Field(
        15.0, gt=0, le=24 * 60,
        description="A staff page login ends after this long without a request (minutes).")
    max_h: float = Field(
        8.0, gt=0, le=24 * 7,
        description="A staff page login ends this long after it began, used or not (hours).")


class SessionConfig(_Section):
    resume_window_h: float = Field(
        24.0, gt=0, le=24 * 30, description="How long a paused session can be resumed (hours)."
    )
    undo_window_min: float = Field(
        10.0, ge=0, le=120, description="How long a staff terminate can be undone (minutes)."
    )
    checkin_max_failures: int = Field(
        5, ge=1, le=100,
        description="Wrong invite/resume codes starting with the same four characters "
                    "before codes starting with them are locked.",
    )
    checkin_lockout_s: float = Field(
        60.0, ge=1, le=3600,
        description="How long such a lockout lasts; also the quiet time after which the "
                    "kiosk-wide count of wrong codes starts again (seconds).",
    )
    checkin_global_free: int = Field(
        10, ge=1, le=1000,
        description="Wrong codes across the kiosk before every check-in pauses after each "
                    "further wrong one.",
    )
    checkin_backoff_max_s: float = Field(
        30.0, ge=1, le=600,
        description="Longest kiosk-wide pause after a wrong code; the pause doubles from 1 s "
                    "up to this (seconds).",
    )
    code_length: int = Field(
        8, ge=6, le=16, description="Length of generated invite and resume codes."
    )


class StoreConfig(_Section):
    busy_timeout_ms: int = Field(
        5000, ge=0, le=600_000, description="How long a writer waits for a lock (ms)."
    )
    check_integrity: bool = Field(
        True, description="Run PRAGMA integrity_check when the database is opened."
    )


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )
    format: Literal["json", "text"] = Field(
        "json", description="JSON lines (for journald on the box) or plain text."
    )


class AnalysisConfig(_Section):
    enabled: bool = Field(
        True, description="Analyse answers on the box (speech, faces, scores, report)."
    )
    models_dir: Path | None = Field(
        None, description="Model store directory; `<data_dir>/models` when unset."
    )
    tflite_threads: int = Field(
        2, ge=1, le=16, description="Threads each TFLite model may use."
    )
    frame_rate: float = Field(
        5.0, gt=0, le=30, description="Frames per second sampled for face and activity analysis"
        " (lowered automatically while the CPU is busy)."
    )
    pause_threshold_s: float = Field(
        0.7, ge=0.2, le=5, description="Silence between words counted as a pause (seconds)."
    )
    report_language: Literal["session", "zh-CN", "en", "ko"] = Field(
        "session", description="Language of the reviewer's HTML report; 'session' uses the"
        " interview's language."
    )
    speech_threads: int = Field(
        1, ge=1, le=16, description="CPU threads the Whisper decoder may use (the other cores"
        " stay free for capture and vision)."
    )
    speech_beam_size: int = Field(
        5, ge=1, le=10, description="Whisper beam width: 5 is more accurate, 1 (greedy) about"
        " a third faster."
    )
    speech_chunk_s: float = Field(
        6.0, ge=2, le=24, description="Seconds of speech the Whisper decoder waits for before"
        " a pause ends a chunk: shorter gives the final transcript sooner after the answer"
        " ends, longer uses less CPU (each chunk costs one full decoder window)."
    )
    speech_hints: Literal["hotwords", "prompt", "off"] = Field(
        "off", description="How the question's expected terms reach the Whisper decoder:"
        " as hotwords, as an initial prompt, or not at all (the default: given the terms,"
        " Whisper was measured adding them to speech it heard badly, see docs/analysis.md)."
    )


class SyncConfig(_Section):
    enabled: bool = Field(True, description="Run delivery to central (`kiosk sync`).")
    transport: Literal["mqtt", "https"] = Field(
        "mqtt", description="How messages travel: MQTT 5, or HTTPS for sites where MQTT is"
        " blocked. Media always goes over HTTPS.")
    mqtt_host: str = Field("localhost", description="Central's MQTT broker host.")
    mqtt_port: int = Field(8883, ge=1, le=65535, description="Broker port (TLS).")
    keepalive_s: int = Field(
        30, ge=5, le=3600, description="MQTT keepalive; a dead link is noticed within two.")
    session_expiry_s: int = Field(
        7 * 86400, ge=0, le=0xFFFFFFFF,
        description="How long the broker keeps the box's MQTT session while it is away.")
    https_url: str | None = Field(
        None, description="Central's HTTPS base URL (ingest, media upload, document polling).")
    ca_file: Path | None = Field(
        None, description="Central's CA certificate (pinned); `<data_dir>/secrets/central-ca.pem`"
        " when unset.")
    cert_file: Path | None = Field(
        None, description="Device certificate for mutual TLS; `<data_dir>/secrets/device.pem`"
        " when unset (used if present).")
    key_file: Path | None = Field(
        None, description="Device private key; `<data_dir>/secrets/device.key` when unset.")
    signing_key_file: Path | None = Field(
        None, description="Central's Ed25519 public key for documents (pinned at provisioning);"
        " `<data_dir>/secrets/central-signing.pub` when unset.")
    window: int = Field(
        128, ge=1, le=1000, description="Messages in flight at once, awaiting central's ack.")
    ack_timeout_s: float = Field(
        60.0, ge=1, le=86400, description="Resend a message central has not acked after this.")
    backoff_initial_s: float = Field(
        1.0, gt=0, le=600, description="First wait after a failed connection (seconds).")
    backoff_max_s: float = Field(
        300.0, gt=0, le=86400, description="Longest wait between connection attempts.")
    poll_interval_s: float = Field(
        300.0, ge=1, le=86400, description="How often documents are fetched over HTTPS.")
    chunk_bytes: int = Field(
        1_048_576, ge=4096, le=64 * 1_048_576, description="Media upload chunk size.")
    bandwidth_kbps: int = Field(
        0, ge=0, description="Upload cap in kilobits per second; 0 for none.")
    metered: bool = Field(
        False, description="Metered link: results and reports go, media waits.")
    upload_media: bool = Field(
        False, description="Send recordings to central (when the job's consent allows).")
    max_document_bytes: int = Field(
        4 * 1_048_576, ge=1024, le=64 * 1_048_576,
        description="Largest signed document from central; larger ones are rejected unread.")


class StorageConfig(_Section):
    quota_mb: int = Field(
        8192, ge=16, description="Space the box may use for media and queued messages (MiB).")
    reserve_mb: int = Field(
        512, ge=0, description="Stop taking new sessions when less than this is left of the"
        " quota or of the disk (MiB), so sessions in progress can finish.")
    media_retention_days: float = Field(
        30.0, ge=0, le=3650,
        description="Days a recording stays on the box after central has it; it can only"
        " shorten what a job's consent.retention_days promises, never extend it.")
    acked_retention_days: float = Field(
        7.0, ge=0, le=3650, description="Days a delivered message is kept for inspection; it"
        " can only shorten what a job's consent.retention_days promises, never extend it.")


CameraKind = Literal["auto", "picamera2", "opencv", "file", "none"]


class CaptureConfig(_Section):
    enabled: bool = Field(
        True, description="Record answers on this box (microphone and camera). Off: recordings"
        " are attached by another recorder.")
    microphone: str = Field(
        "default", description="Input device: a PortAudio index, or part of its name"
        " (case ignored, see `kiosk devices`); \"none\" records no audio.")
    sample_rate: int = Field(16_000, ge=8_000, le=48_000, description="Audio sample rate (Hz).")
    channels: int = Field(1, ge=1, le=2, description="Audio channels (1: mono).")
    block_ms: int = Field(
        50, ge=10, le=500, description="Audio block the device hands over at a time (ms).")
    buffer_s: float = Field(
        5.0, gt=0, le=60, description="Audio held between the device and the file writer (s);"
        " blocks that do not fit are counted as dropped.")
    camera: CameraKind = Field(
        "auto", description="Camera backend: picamera2 (Pi camera), opencv (V4L2/USB webcam,"
        " Jetson CSI through a GStreamer pipeline), file (a file or stream URL), none, or auto"
        " (picamera2 if present, else the first /dev/video*, else none).")
    camera_source: str = Field(
        "", description="For opencv: device index, /dev/videoN or a GStreamer pipeline ending in"
        " appsink. For file: a path or rtsp/http URL.")
    loop: bool = Field(False, description="Replay a file source from the start when it ends.")
    video_width: int = Field(1280, ge=160, le=3840, description="Recorded video width (px).")
    video_height: int = Field(720, ge=120, le=2160, description="Recorded video height (px).")
    fps: int = Field(15, ge=1, le=60, description="Recorded frames per second.")
    video_bitrate_kbps: int = Field(2000, ge=100, le=20_000, description="H.264 bitrate.")
    analysis_width: int = Field(
        320, ge=64, le=1920, description="Width of the low-resolution stream for analysis and"
        " the live preview (px); height follows the aspect ratio.")
    preview_fps: float = Field(5.0, gt=0, le=30, description="Live preview frame rate.")
    framing_rate: float = Field(
        2.0, gt=0, le=15, description="Framing checks per second on the framing screen.")
    require_microphone: bool = Field(
        True, description="Refuse to start an answer without a working microphone.")
    require_camera: bool = Field(
        True, description="Refuse to start an answer without a working camera.")
    lost_after_s: float = Field(
        2.0, gt=0, le=30, description="A device that delivers nothing for this long is lost:"
        " the session is paused with the reason and staff are alerted.")
    encrypt: bool = Field(True, description="Encrypt recordings at rest (AES-256-GCM).")


class KioskConfig(_Section):
    data_dir: Path = Field(
        Path("var/kiosk"),
        description="Directory of the database, media, secrets and models.",
    )
    device: DeviceConfig = Field(default_factory=DeviceConfig, description="Identity.")
    site: SiteConfig = Field(default_factory=SiteConfig, description="The site's time zone.")
    api: ApiConfig = Field(default_factory=ApiConfig, description="Local API.")
    staff_page: StaffPageConfig = Field(
        default_factory=StaffPageConfig, description="The staff page's logins.")
    session: SessionConfig = Field(default_factory=SessionConfig, description="Interview rules.")
    store: StoreConfig = Field(default_factory=StoreConfig, description="SQLite store.")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Logging.")
    analysis: AnalysisConfig = Field(
        default_factory=AnalysisConfig, description="On-device analysis."
    )
    sync: SyncConfig = Field(default_factory=SyncConfig, description="Delivery to central.")
    storage: StorageConfig = Field(
        default_factory=StorageConfig, description="Storage budget and retention.")
    capture: CaptureConfig = Field(
        default_factory=CaptureConfig, description="Microphone, camera and recording files.")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "kiosk.db"

    @property
    def store_mark_path(self) -> Path:
        """What the box knows about its database from outside it (``device.storage.store_mark``)."""
        return self.data_dir / "store-mark.json"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    def secret(self, configured: Path | None, name: str) -> Path:
        """A secret file: the configured path, or ``<data_dir>/secrets/<name>``."""
        return configured or self.secrets_dir / name

    @property
    def models_dir(self) -> Path:
        return self.analysis.models_dir or self.data_dir / "models"
