"""Settings central may change on the box (``config`` documents), and the settings in force.

Central can tune delivery, storage, interview windows and the site's time zone of a fleet
without a technician, but only the keys in :data:`ALLOWED`; identity, addresses, keys and
paths stay with the box's own configuration. A ``config`` document names sections and
keys, e.g. ``{"settings": {"sync": {"metered": true}}}``. Each value is checked by the same
models that check ``kiosk.toml``; one unknown key or bad value rejects the whole document.

A document states every setting of its scope: applying it replaces what earlier documents
of the same scope set (a key it leaves out falls back to the box's own configuration).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlite_utils import Database

from device.central_link import inbox
from device.config import KioskConfig
from device.errors import KioskError
from device.storage.database import Store, rows
from shared.canonical_json import dumps

log = logging.getLogger(__name__)

#: The settings central may change, by section.
ALLOWED: dict[str, tuple[str, ...]] = {
    "sync": ("metered", "upload_media", "bandwidth_kbps", "poll_interval_s"),
    "storage": ("media_retention_days", "quota_mb", "reserve_mb"),
    "session": ("resume_window_h", "undo_window_min"),
    "site": ("time_zone",),
}

Settings = dict[str, dict[str, Any]]


class CentralSettingsError(KioskError):
    """A ``config`` document names a setting central may not change, or a bad value."""

    status = 422
    code = "central-settings-rejected"


def _section_model(section: str) -> type[BaseModel]:
    annotation = KioskConfig.model_fields[section].annotation
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation


def _allowed_list() -> str:
    return ", ".join(f"{s}.{k}" for s, keys in ALLOWED.items() for k in keys)


def validate(settings: Mapping[str, Mapping[str, Any]]) -> Settings:
    """Check every section, key and value; return the values as the config models read them.

    Values must have their JSON type (``true``, not ``"true"``): strict validation.
    """
    out: Settings = {}
    for section, values in settings.items():
        if section not in ALLOWED:
            raise CentralSettingsError(
                f"[{section}] is not a section central may change (allowed: {_allowed_list()})")
        model = _section_model(section)
        for key, value in values.items():
            if key not in ALLOWED[section]:
                raise CentralSettingsError(
                    f"[{section}] {key} is not a setting central may change (allowed:"
                    f" {_allowed_list()})")
            try:
                checked = model.model_validate({key: value}, strict=True)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise CentralSettingsError(
                    f"[{section}] {key}: {first['msg'][0].lower()}{first['msg'][1:]},"
                    f" got {value!r}") from None
            out.setdefault(section, {})[key] = getattr(checked, key)
    return out


def replace(db: Database, settings: Settings, document_id: str, scope: str) -> int:
    """Store a document's settings inside the caller's transaction; return how many.

    Settings from earlier ``config`` documents of the same scope are dropped first.
    """
    earlier = [d for d in inbox.ids_of(db, "config", scope) if d != document_id]
    for chunk in range(0, len(earlier), 500):
        part = earlier[chunk:chunk + 500]
        db.execute(f"DELETE FROM central_settings WHERE document_id IN"  # noqa: S608
                   f" ({','.join('?' * len(part))})", tuple(part))
    count = 0
    for section, values in settings.items():
        for key, value in values.items():
            db.execute(
                "INSERT INTO central_settings (section, key, value, document_id)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (section, key) DO UPDATE SET"
                " value = excluded.value, document_id = excluded.document_id",
                (section, key, dumps(value), document_id),
            )
            count += 1
    return count


def current(db: Database) -> Settings:
    """Central's settings as stored (values as JSON types)."""
    out: Settings = {}
    for r in rows(db, "SELECT section, key, value FROM central_settings ORDER BY section, key"):
        out.setdefault(r["section"], {})[r["key"]] = json.loads(r["value"])
    return out


def env_name(section: str, key: str) -> str:
    """The ``KIOSK_*`` variable that sets a key (see :mod:`device.config`)."""
    return f"KIOSK_{section}_{key}".upper()


def effective_config(
    config: KioskConfig, store: Store, environ: Mapping[str, str] | None = None
) -> KioskConfig:
    """The configuration in force: the box's own, with central's settings merged in.

    Precedence, lowest first: built-in defaults < the TOML file < central's settings <
    ``KIOSK_*`` environment variables. The environment wins over central because a
    technician set it on this very box (to pin a setting while diagnosing it, say).
    ``config`` is the result of :func:`device.config_loader.load_config`; ``environ`` defaults
    to the process environment, read when called. A stored value the current models no
    longer accept (after a software update) is skipped with a warning.
    """
    env = os.environ if environ is None else environ
    with store.read() as db:
        stored = current(db)
    overrides: Settings = {}
    for section, values in stored.items():
        for key, value in values.items():
            if env_name(section, key) in env:
                continue
            try:
                checked = validate({section: {key: value}})
            except CentralSettingsError as exc:
                log.warning("central setting ignored: %s", exc)
                continue
            overrides.setdefault(section, {})[key] = checked[section][key]
    if not overrides:
        return config
    data = config.model_dump()
    for section, values in overrides.items():
        data[section] = {**data[section], **values}
    return KioskConfig.model_validate(data)
