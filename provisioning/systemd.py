"""The box's systemd units, from the templates in ``provisioning/systemd/``.

``kiosk-device`` (the API, capture and analysis; ``Type=notify`` with a watchdog),
``kiosk-sync`` (delivery to central) and ``kiosk-ui`` (Chromium in kiosk mode under the
cage Wayland compositor on the touchscreen). Each runs as the kiosk's own user, hardened:
no new privileges, a read-only system, a private /tmp, no home directories, and only the
data directory writable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from device.errors import KioskError
from provisioning import files

TEMPLATES = Path(__file__).resolve().parent / "systemd"
UNITS = ("kiosk-device.service", "kiosk-sync.service", "kiosk-ui.service")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class UnitError(KioskError):
    code = "systemd-units"


@dataclass(frozen=True)
class UnitSettings:
    user: str = "kiosk"
    venv: Path = Path("/opt/kiosk/.venv")
    config: Path = Path("/etc/kiosk/kiosk.toml")
    data_dir: Path = Path("/var/lib/kiosk")
    ui_url: str = "http://127.0.0.1:8470/"
    cage: Path = Path("/usr/bin/cage")
    browser: Path = Path("/usr/bin/chromium")

    def check(self) -> None:
        if not _USER.match(self.user):
            raise UnitError(f"{self.user!r} is not a system user name (lower-case letters,"
                            " digits, '_' or '-')")
        for what, path in (("--venv", self.venv), ("--config", self.config),
                           ("--data-dir", self.data_dir), ("--cage", self.cage),
                           ("--browser", self.browser)):
            if not path.is_absolute() or any(c.isspace() for c in str(path)):
                raise UnitError(f"{what} {path}: give an absolute path without spaces")
        parts = urlsplit(self.ui_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in self.ui_url:
            raise UnitError(f"--url-of-ui {self.ui_url!r}: give the kiosk's http:// URL, e.g."
                            " http://127.0.0.1:8470/")

    def values(self) -> dict[str, str]:
        raw = {"USER": self.user, "VENV": str(self.venv), "CONFIG": str(self.config),
               "DATA_DIR": str(self.data_dir), "UI_URL": self.ui_url,
               "CAGE": str(self.cage), "BROWSER": str(self.browser)}
        return {k: v.replace("%", "%%") for k, v in raw.items()}  # systemd specifiers


def render(name: str, settings: UnitSettings) -> str:
    """One unit's text with the settings filled in."""
    try:
        text = (TEMPLATES / name).read_text(encoding="utf-8")
    except OSError as exc:
        raise UnitError(f"{TEMPLATES / name}: the unit template cannot be read"
                        f" ({exc.strerror})") from None
    for key, value in settings.values().items():
        text = text.replace(f"@{key}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise UnitError(f"{name}: the template names unknown values {sorted(set(left))}")
    return text


@dataclass(frozen=True)
class Written:
    path: Path
    changed: bool


def install(directory: Path, settings: UnitSettings) -> list[Written]:
    """Write the units into ``directory``; a unit whose content is unchanged is left alone."""
    settings.check()
    if not directory.is_dir():
        raise UnitError(f"{directory}: no such directory (give the systemd unit directory"
                        " with --dir)")
    out = []
    for name in UNITS:
        text = render(name, settings)
        path = directory / name
        try:
            same = path.read_text(encoding="utf-8") == text
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            files.write_atomic(path, text.encode(), 0o644)
        out.append(Written(path, not same))
    return out


def next_steps() -> str:
    return f"systemctl daemon-reload && systemctl enable --now {' '.join(UNITS)}"
