"""The device registry: which boxes are enrolled, and the tenant and site each belongs to.

A box's identity is its certificate's CN (its device id); its tenant and site come from
here, never from a topic or a message body. Enrolment adds a box (bound to its token's
tenant and site); an admin adds one whose certificate was issued by hand. A box is never
moved by what it sends: re-registering it elsewhere is an explicit admin act (``move``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from central.errors import ConflictError
from central.identity import NotADeviceError, check_device_name, check_path_name
from central.store import ReceiverStore, row, rows, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Device:
    """An enrolled box: its id (certificate CN), tenant and site."""

    device_id: str
    tenant: str
    site: str


class UnknownDeviceError(NotADeviceError):
    code = "device-not-enrolled"


class DeviceMismatchError(NotADeviceError):
    code = "device-mismatch"


def register(conn: Any, device: Device, how: str, *, move: bool = False) -> bool:
    """Add a box inside the caller's transaction; True when it is new.

    The same box registered again where it is changes nothing; elsewhere it is refused
    unless ``move`` (an admin moving the box to another tenant or site).
    """
    try:
        check_device_name(check_path_name(device.device_id, "device id"))
        check_path_name(device.tenant, "tenant")
        check_path_name(device.site, "site")
    except ValueError as exc:
        raise NotADeviceError(str(exc)) from None
    known = row(conn, "SELECT tenant, site FROM registry WHERE device_id = ?",
                (device.device_id,))
    if known is None:
        conn.execute("INSERT INTO registry (device_id, tenant, site, registered, how)"
                     " VALUES (?, ?, ?, ?, ?)",
                     (device.device_id, device.tenant, device.site, utc_now(), how))
        return True
    if (known["tenant"], known["site"]) == (device.tenant, device.site):
        return False
    if not move:
        raise ConflictError(f"device {device.device_id} is enrolled for {known['tenant']}/"
                            f"{known['site']}, not {device.tenant}/{device.site}; move it"
                            " explicitly to change that")
    conn.execute("UPDATE registry SET tenant = ?, site = ?, registered = ?, how = ?"
                 " WHERE device_id = ?",
                 (device.tenant, device.site, utc_now(), how, device.device_id))
    return True


def lookup(store: ReceiverStore, device_id: str) -> Device | None:
    found = store.one("SELECT device_id, tenant, site FROM registry WHERE device_id = ?",
                      (device_id,))
    return None if found is None else Device(**found)


def devices(store: ReceiverStore) -> list[Device]:
    with store.read() as conn:
        return [Device(**r) for r in rows(conn, "SELECT device_id, tenant, site FROM registry"
                                          " ORDER BY device_id")]


def enrolled(store: ReceiverStore, device_id: str) -> Device:
    """The registered box ``device_id``; refused (and logged) when it is not enrolled."""
    found = lookup(store, device_id)
    if found is None:
        log.warning("refused: device %s is not enrolled", device_id)
        raise UnknownDeviceError(f"device {device_id} is not enrolled with central")
    return found


def check_claim(device: Device, device_id: str, tenant: str, site: str, what: str) -> None:
    """Refuse (and log) ``what`` when it claims another device, tenant or site than the
    enrolled identity it came from."""
    wrong = [f"{name} {claimed!r} (enrolled: {actual!r})" for name, claimed, actual in (
        ("device_id", device_id, device.device_id), ("tenant", tenant, device.tenant),
        ("site", site, device.site)) if claimed != actual]
    if wrong:
        log.warning("refused %s from %s: claims %s", what, device.device_id, ", ".join(wrong))
        raise DeviceMismatchError(f"{what} from {device.device_id} claims {', '.join(wrong)};"
                                  " a box speaks only for itself")
