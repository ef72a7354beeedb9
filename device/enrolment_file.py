"""The enrolment file: what ``kiosk provision enroll`` writes in the data directory.

It holds the box's identity and central's addresses, and is layered over ``kiosk.toml``
by :mod:`device.config`. Only the keys enrolment writes may appear in it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from device.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (JetPack 6)
    import tomli as tomllib

#: File ``kiosk provision enroll`` writes in the data directory, and the keys it may set.
ENROLMENT_FILE = "enrolment.toml"
ENROLMENT_KEYS: dict[str, frozenset[str]] = {
    "device": frozenset({"id", "tenant", "site"}),
    "sync": frozenset({"transport", "mqtt_host", "mqtt_port", "https_url"}),
    "enrolment": frozenset({"url", "enrolled"}),  # about the enrolment; not settings
}


def read_enrolment(path: Path) -> dict[str, Any] | None:
    """The enrolment file's tables, or None when there is none; ConfigError naming it when
    it cannot be read or holds anything but the keys enrolment writes."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the enrolment file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the enrolment file is not UTF-8 text; enrol again with"
                          " `kiosk provision enroll --force`") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: the enrolment file is not valid TOML ({exc}); enrol again"
                          " with `kiosk provision enroll --force`") from None
    for section, values in data.items():
        allowed = ENROLMENT_KEYS.get(section)
        if allowed is None or not isinstance(values, dict):
            raise ConfigError(f"{path}: the enrolment file has an unexpected [{section}]"
                              f" (allowed: {', '.join(sorted(ENROLMENT_KEYS))})")
        extra = sorted(set(values) - allowed)
        if extra:
            raise ConfigError(f"{path}: the enrolment file sets [{section}] {extra[0]}, which"
                              f" enrolment does not set (allowed: {', '.join(sorted(allowed))})")
    return data
