"""Importing job packages into the store.

A package is applied whole or not at all: a malformed, incomplete or out-of-date
package is rejected with the reason in the audit log, and the previously active
version of the job stays in force.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from device import audit
from device.audit import Actor
from device.errors import NotFoundError, PackageRejectedError
from device.package import JobPackage, PackageError, package_digest, parse_package
from device.store import Store, dumps, row, stamp_json


@dataclass(frozen=True)
class ImportOutcome:
    job_id: str
    version: int
    status: str  # "imported" | "unchanged"


def import_package(store: Store, data: bytes, source: str, actor: Actor) -> ImportOutcome:
    """Validate and activate a package; PackageRejectedError (audited) when it is refused."""
    now = store.now()
    try:
        package = parse_package(data, source)
        digest = package_digest(data)
        with store.transaction() as db:
            outcome = apply_package(db, package, digest, source, now, actor)
        return outcome
    except (PackageError, PackageRejectedError) as exc:
        with store.transaction() as db:
            audit.append(db, now, actor, "job.package_rejected", subject=source,
                         reason=str(exc).splitlines()[0],
                         details={"problems": getattr(exc, "problems", [str(exc)])[:20]})
        if isinstance(exc, PackageRejectedError):
            raise
        raise PackageRejectedError(str(exc)) from None


def apply_package(db: Any, package: JobPackage, digest: str, source: str, now: Any,
                  actor: Actor) -> ImportOutcome:
    """Activate a parsed package inside the caller's transaction (audited as imported).

    PackageRejectedError when it is older than, or conflicts with, the active version.
    """
    job_id, version = package.job.id, package.package_version
    active = row(db, "SELECT j.active_version, p.digest FROM jobs j JOIN job_packages p ON"
                 " p.job_id = j.id AND p.version = j.active_version WHERE j.id = ?", (job_id,))
    if active is not None:
        if version == active["active_version"]:
            if digest == active["digest"]:
                return ImportOutcome(job_id, version, "unchanged")
            raise PackageRejectedError(
                f"{source}: job {job_id} version {version} is already active with different "
                "content; central must issue a new package_version"
            )
        if version < active["active_version"]:
            raise PackageRejectedError(
                f"{source}: job {job_id} version {version} is older than the active version "
                f"{active['active_version']}"
            )
    body = package.model_dump(mode="json")
    db.execute(
        "INSERT INTO job_packages (job_id, version, digest, body, source, imported)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (job_id, version, digest, dumps(body), source, stamp_json(now)),
    )
    for position, item in enumerate(body["items"]):
        db.execute(
            "INSERT INTO question_sets (job_id, version, position, item_id, kind, body)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, version, position, item["id"], item["kind"], dumps(item)),
        )
    db.execute(
        "INSERT INTO jobs (id, title, language, cost_centre, active_version, updated)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET title = excluded.title,"
        " language = excluded.language, cost_centre = excluded.cost_centre,"
        " active_version = excluded.active_version, updated = excluded.updated",
        (job_id, dumps(body["job"]["title"]), package.job.language, package.job.cost_centre,
         version, stamp_json(now)),
    )
    audit.append(db, now, actor, "job.imported", subject=job_id,
                 details={"version": version, "digest": digest, "source": source})
    return ImportOutcome(job_id, version, "imported")


def list_jobs(store: Store) -> list[dict[str, Any]]:
    found = store.all("SELECT id, title, language, cost_centre, active_version FROM jobs"
                      " ORDER BY id")
    for job in found:
        job["title"] = json.loads(job["title"])
    return found


def active_package(store: Store, job_id: str) -> JobPackage:
    found = store.one("SELECT p.body FROM jobs j JOIN job_packages p ON p.job_id = j.id AND"
                      " p.version = j.active_version WHERE j.id = ?", (job_id,))
    if found is None:
        raise NotFoundError(f"no job {job_id} on this box (import its package first)")
    return JobPackage.model_validate_json(found["body"])
