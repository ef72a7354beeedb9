"""The job packages installed on the box: the one owner of ``job_packages``, ``jobs`` and
``question_sets``.

Importing: a package is applied whole or not at all; a malformed, incomplete or out-of-date
package is rejected with the reason in the audit log, and the previously active version of
the job stays in force. Whether a version may be installed is decided here only
(:func:`check_version`), for a file imported on the console as for a document from central.

Reading: :func:`package` is the one reader of an installed package, as the typed
:class:`JobPackage`; a session reads the version it started with (:func:`session_package`),
new sessions the job's active version (:func:`active_package`, :func:`find_job`). A stored
version never changes, so each is parsed once and kept by its digest.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from sqlite_utils import Database

from device import audit
from device.audit import Actor
from device.clock import Stamp
from device.errors import NotFoundError, PackageRejectedError
from device.jobs.language_gate import LanguageGate
from device.jobs.package import JobPackage, PackageError, package_digest, parse_package
from device.storage.database import Store, row, rows, stamp_json
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


@dataclass(frozen=True, slots=True)
class JobRow:
    """A job on the box, with the languages its active package offers."""

    id: str
    title: dict[str, str]
    language: str
    cost_centre: str
    active_version: int
    languages: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class VersionRejectedError(PackageRejectedError):
    """A package version that may not be installed: older than the active version, or the
    active version with other content. Says which, so each edge can word it."""

    def __init__(self, message: str, *, job_id: str, version: int, active_version: int
                 ) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.version = version
        self.active_version = active_version

    @property
    def older(self) -> bool:
        """True: older than the active version; False: the same version, other content."""
        return self.version < self.active_version


# -- importing ----------------------------------------------------------------------------

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


def check_version(db: Database, job_id: str, version: int, digest: str, source: str
                  ) -> Literal["new", "unchanged"]:
    """Whether ``version`` of the job (content ``digest``) may be installed: ``new``, or
    ``unchanged`` when it is the active version with the same content.

    VersionRejectedError when it is older than the active version, or is the active version
    with different content."""
    active = row(db, "SELECT j.active_version, p.digest FROM jobs j JOIN job_packages p ON"
                 " p.job_id = j.id AND p.version = j.active_version WHERE j.id = ?", (job_id,))
    if active is None:
        return "new"
    current = int(active["active_version"])
    if version == current:
        if digest == active["digest"]:
            return "unchanged"
        raise VersionRejectedError(
            f"{source}: job {job_id} version {version} is already active with different "
            "content; central must issue a new package_version",
            job_id=job_id, version=version, active_version=current)
    if version < current:
        raise VersionRejectedError(
            f"{source}: job {job_id} version {version} is older than the active version "
            f"{current}", job_id=job_id, version=version, active_version=current)
    return "new"


def apply_package(db: Database, package: JobPackage, digest: str, source: str, now: Stamp,
                  actor: Actor, languages: LanguageGate | None = None) -> ImportOutcome:
    """Activate a parsed package inside the caller's transaction (audited as imported).

    PackageRejectedError when it is older than, or conflicts with, the active version, or
    when ``languages`` says the box can analyse none of the languages it offers.
    """
    status = check_version(db, package.job.id, package.package_version, digest, source)
    return activate_package(db, package, digest, source, now, actor, languages,
                            unchanged=status == "unchanged")


def activate_package(db: Database, package: JobPackage, digest: str, source: str, now: Stamp,
                     actor: Actor, languages: LanguageGate | None = None, *,
                     unchanged: bool = False) -> ImportOutcome:
    """Install and activate a package whose version :func:`check_version` allowed (nothing
    is written when it said ``unchanged``); PackageRejectedError when ``languages`` says the
    box can analyse none of the languages it offers."""
    job_id, version = package.job.id, package.package_version
    coverage = (languages or LanguageGate.off()).coverage(package.job.languages)

    def outcome(status: str) -> ImportOutcome:
        return ImportOutcome(job_id, version, status, coverage.disabled, coverage.notice())

    if unchanged:
        return outcome("unchanged")
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


# -- reading ------------------------------------------------------------------------------

_JOBS = ("SELECT j.id, j.title, j.language, j.cost_centre, j.active_version,"
         " json_extract(p.body, '$.job.languages') AS languages FROM jobs j"
         " JOIN job_packages p ON p.job_id = j.id AND p.version = j.active_version")


def _job_row(found: dict[str, Any]) -> JobRow:
    return JobRow(id=found["id"], title=json.loads(found["title"]),
                  language=found["language"], cost_centre=found["cost_centre"],
                  active_version=int(found["active_version"]),
                  languages=json.loads(found["languages"]))


def jobs(db: Database) -> list[JobRow]:
    """Every job on the box, by id."""
    return [_job_row(r) for r in rows(db, _JOBS + " ORDER BY j.id")]


def find_job(db: Database, job_id: str) -> JobRow | None:
    """The job, or None when no package of it was imported."""
    found = row(db, _JOBS + " WHERE j.id = ?", (job_id,))
    return None if found is None else _job_row(found)


def list_jobs(store: Store, languages: LanguageGate | None = None) -> list[dict[str, Any]]:
    """Active jobs; each with the ``languages`` it offers and, read from the installed
    models now, the ``languages_disabled`` this box cannot analyse."""
    installed = (languages or LanguageGate.off()).read()
    with store.read() as db:
        found = jobs(db)
    return [{**job.to_dict(),
             "languages_disabled": list(installed.coverage(job.languages).disabled)}
            for job in found]


_CACHE_SIZE = 32
_parsed: dict[str, JobPackage] = {}
_parsed_lock = threading.Lock()


def package(db: Database, job_id: str, version: int) -> JobPackage:
    """Version ``version`` of the job's package; NotFoundError when it was never imported."""
    found = row(db, "SELECT digest FROM job_packages WHERE job_id = ? AND version = ?",
                (job_id, version))
    if found is None:
        raise NotFoundError(f"no version {version} of job {job_id} on this box")
    digest: str = found["digest"]
    with _parsed_lock:
        cached = _parsed.get(digest)
    if cached is not None:
        return cached
    body = row(db, "SELECT body FROM job_packages WHERE job_id = ? AND version = ?",
               (job_id, version))
    assert body is not None
    parsed = JobPackage.model_validate_json(body["body"])
    with _parsed_lock:
        while len(_parsed) >= _CACHE_SIZE:
            del _parsed[next(iter(_parsed))]
        _parsed[digest] = parsed
    return parsed


class SessionRef(Protocol):
    """What names a session's package: its job and the version it started with."""

    @property
    def job_id(self) -> str: ...

    @property
    def job_version(self) -> int: ...


def session_package(db: Database, session: SessionRef) -> JobPackage:
    """The package version a session started with (its ``job_id`` and ``job_version``): a
    session keeps it to the end, whatever is imported meanwhile."""
    return package(db, session.job_id, session.job_version)


def active_package(store: Store, job_id: str) -> JobPackage:
    """The job's active package; NotFoundError when the job is not on this box."""
    with store.read() as db:
        job = find_job(db, job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id} on this box (import its package first)")
        return package(db, job_id, job.active_version)
