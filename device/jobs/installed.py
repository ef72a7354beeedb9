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
from device.jobs.language_gate import LanguageGate
from device.jobs.package import JobPackage, PackageError, package_digest, parse_package
from device.storage.database import Store, row, stamp_json
from shared.canonical_json import dumps


@dataclass(frozen=True)
class ImportOutcome:
    job_id: str
    version: int
    status: str  # "imported" | "unchanged"
    #: Offered languages this box cannot analyse now (no speech model serves them).
    languages_disabled: tuple[str, ...] = ()
    #: What staff should be told about the job's languages, in plain words (or None).
    notice: str | None = None


def import_package(store: Store, data: bytes, source: str, actor: Actor,
                   languages: LanguageGate | None = None) -> ImportOutcome:
    """Validate and activate a package; PackageRejectedError (audited) when it is refused.

    With ``languages`` (the box's gate, see :mod:`device.jobs.language_gate`) a package none of
    whose languages the box can analyse is refused, and one with some is imported with the
    others disabled (``languages_disabled``, ``notice``)."""
    now = store.now()
    try:
        package = parse_package(data, source)
        digest = package_digest(data)
        with store.transaction() as db:
            outcome = apply_package(db, package, digest, source, now, actor, languages)
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
                  actor: Actor, languages: LanguageGate | None = None) -> ImportOutcome:
    """Activate a parsed package inside the caller's transaction (audited as imported).

    PackageRejectedError when it is older than, or conflicts with, the active version, or
    when ``languages`` says the box can analyse none of the languages it offers.
    """
    job_id, version = package.job.id, package.package_version
    gate = languages or LanguageGate.off()
    coverage = gate.coverage(package.job.languages)

    def outcome(status: str) -> ImportOutcome:
        return ImportOutcome(job_id, version, status, coverage.disabled, coverage.notice())

    active = row(db, "SELECT j.active_version, p.digest FROM jobs j JOIN job_packages p ON"
                 " p.job_id = j.id AND p.version = j.active_version WHERE j.id = ?", (job_id,))
    if active is not None:
        if version == active["active_version"]:
            if digest == active["digest"]:
                return outcome("unchanged")
            raise PackageRejectedError(
                f"{source}: job {job_id} version {version} is already active with different "
                "content; central must issue a new package_version"
            )
        if version < active["active_version"]:
            raise PackageRejectedError(
                f"{source}: job {job_id} version {version} is older than the active version "
                f"{active['active_version']}"
            )
    coverage.require_importable(job_id, source)
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
    details: dict[str, Any] = {"version": version, "digest": digest, "source": source}
    if coverage.disabled:
        details["languages_disabled"] = list(coverage.disabled)
    audit.append(db, now, actor, "job.imported", subject=job_id, details=details)
    return outcome("imported")


def list_jobs(store: Store, languages: LanguageGate | None = None) -> list[dict[str, Any]]:
    """Active jobs; each with the ``languages`` it offers and, read from the installed
    models now, the ``languages_disabled`` this box cannot analyse."""
    installed = (languages or LanguageGate.off()).read()
    found = store.all("SELECT j.id, j.title, j.language, j.cost_centre, j.active_version,"
                      " json_extract(p.body, '$.job.languages') AS languages FROM jobs j"
                      " JOIN job_packages p ON p.job_id = j.id AND p.version = j.active_version"
                      " ORDER BY j.id")
    for job in found:
        job["title"] = json.loads(job["title"])
        job["languages"] = json.loads(job["languages"])
        job["languages_disabled"] = list(installed.coverage(job["languages"]).disabled)
    return found


def active_package(store: Store, job_id: str) -> JobPackage:
    found = store.one("SELECT p.body FROM jobs j JOIN job_packages p ON p.job_id = j.id AND"
                      " p.version = j.active_version WHERE j.id = ?", (job_id,))
    if found is None:
        raise NotFoundError(f"no job {job_id} on this box (import its package first)")
    return JobPackage.model_validate_json(found["body"])
