"""Loading and checking job packages (format ``kiosk-job-package/1``).

The models live in :mod:`device.jobs.models` and are re-exported here, so callers import
everything from ``device.jobs.package``::

    from device.jobs.package import JobPackage, PackageError, load_package

    package = load_package(path)          # raises PackageError with every problem found

Command line::

    python -m device.jobs.package --write-schema docs/schemas/job-package.schema.json
    python -m device.jobs.package path/to/package.json ...     # check packages
"""

import argparse
import hashlib
import importlib.resources
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from device.central_link import strict_json
from device.jobs.consent_rules import retention_period_problems
from device.jobs.document import JobPackage
from device.jobs.models import (
    DEMONSTRATION_METRICS,
    FORMAT,
    ITEM_KINDS,
    LANGUAGES,
    METRICS,
    SPOKEN_METRICS,
    STAR_ELEMENTS,
    ChecklistItem,
    Competency,
    CompetencyEvidence,
    Consent,
    DemonstrationTask,
    Identifier,
    Item,
    Job,
    Language,
    LocalizedText,
    Metric,
    PackageProblems,
    Phrases,
    Rubric,
    Scoring,
    SpokenQuestion,
    StarCues,
    StarElement,
    TimeBand,
    WorkArea,
)
from device.jobs.rules import localized_texts

__all__ = [
    "DEMONSTRATION_METRICS",
    "FORMAT",
    "LANGUAGES",
    "MAX_PACKAGE_BYTES",
    "METRICS",
    "SCHEMA_ID",
    "SPOKEN_METRICS",
    "STAR_ELEMENTS",
    "ChecklistItem",
    "Competency",
    "CompetencyEvidence",
    "Consent",
    "DemonstrationTask",
    "Identifier",
    "Item",
    "Job",
    "JobPackage",
    "Language",
    "LocalizedText",
    "Metric",
    "PackageError",
    "Phrases",
    "Rubric",
    "Scoring",
    "SpokenQuestion",
    "StarCues",
    "StarElement",
    "TimeBand",
    "WorkArea",
    "example_package_path",
    "load_package",
    "localized_texts",
    "package_digest",
    "package_json_schema",
    "parse_package",
    "write_schema",
]

MAX_PACKAGE_BYTES = 2 * 1024 * 1024
"""Largest accepted package document, in bytes (2 MiB)."""

SCHEMA_ID = "https://schemas.kiosk.local/job-package/1.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_SOURCE = "<package>"


class PackageError(Exception):
    """A job package that cannot be used.

    ``str(error)`` is one line naming the source and the first problem; ``problems`` lists every
    problem found, each as ``"path: message"``.
    """

    def __init__(self, problems: Sequence[str], source: str = DEFAULT_SOURCE) -> None:
        self.problems: list[str] = list(problems) or ["invalid job package"]
        self.source = source
        summary = f"{source}: {self.problems[0]}"
        if len(self.problems) > 1:
            more = len(self.problems) - 1
            summary += f" (and {more} more problem{'s' if more > 1 else ''})"
        super().__init__(summary)


def _decode_json(data: bytes | str, source: str) -> Any:
    """Parse a package document into plain JSON values, enforcing the size limit."""
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > MAX_PACKAGE_BYTES:
        raise PackageError(
            [f"package is {size} bytes; the limit is {MAX_PACKAGE_BYTES} bytes (2 MiB)"], source
        )
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            problem = f"not UTF-8 text (invalid byte at offset {exc.start})"
            raise PackageError([problem], source) from None
    else:
        text = data.removeprefix("\ufeff")
    try:
        return strict_json.loads(text)
    except json.JSONDecodeError as exc:
        problem = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise PackageError([problem], source) from None
    except strict_json.StrictJsonError as exc:
        raise PackageError([f"invalid JSON: {exc}"], source) from None
    except RecursionError:
        raise PackageError(["invalid JSON: nested too deeply"], source) from None


def _format_loc(loc: Sequence[int | str]) -> str:
    """Render a pydantic location the way it reads in the document: ``items[0].prompt.ko``."""
    path = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(previous, int) and part in ITEM_KINDS:
            pass  # discriminated-union branch name, not part of the document
        elif part.startswith("[") or not path:
            path += part
        else:
            path += f".{part}"
        previous = part
    return path


def _join(prefix: str, relative: str) -> str:
    if not prefix:
        return relative
    return prefix + relative if relative.startswith("[") else f"{prefix}.{relative}"


def _show(value: Any) -> str:
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _validation_problems(error: ValidationError) -> list[str]:
    problems: list[str] = []
    for detail in error.errors():
        path = _format_loc(detail["loc"])
        cause = detail.get("ctx", {}).get("error")
        kind = detail["type"]
        if isinstance(cause, PackageProblems):
            problems += [_join(path, problem) for problem in cause.problems]
            continue
        if kind == "extra_forbidden":
            message = f"unknown field (not part of {FORMAT})"
        elif kind == "missing":
            message = "required field is missing"
        elif kind == "too_short" and detail.get("ctx", {}).get("min_length") == 1:
            message = "must not be empty"
        else:
            message = detail["msg"].removeprefix("Value error, ")
            value = detail.get("input")
            if value is None or isinstance(value, (str, int, float, bool)):
                message += f" (got {_show(value)})"
        problems.append(f"{path or '(document)'}: {message}")
    return problems


def parse_package(data: bytes | str, source: str = DEFAULT_SOURCE) -> JobPackage:
    """Parse and validate a package document; raise PackageError listing every problem.

    Validation is strict: numbers must be JSON numbers and flags JSON booleans ("30" is not 30).
    Consent texts must not state their own retention period (:mod:`device.jobs.consent_rules`).
    """
    document = _decode_json(data, source)
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise PackageError([f"(document): expected a JSON object, got {kind}"], source)
    if document.get("format") != FORMAT and "format" in document:
        found = _show(document["format"])
        raise PackageError(
            [f"format: unsupported format {found}; this kiosk reads '{FORMAT}'"], source
        )
    try:
        package = JobPackage.model_validate(document, strict=True)
    except ValidationError as exc:
        raise PackageError(_validation_problems(exc), source) from None
    problems = retention_period_problems(package)
    if problems:
        raise PackageError(problems, source)
    return package


def load_package(path: Path) -> JobPackage:
    """Read and validate the package file at ``path``; raise PackageError naming the path."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_PACKAGE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise PackageError([f"cannot read package file: {reason}"], str(path)) from None
    return parse_package(data, str(path))


def package_digest(data: bytes | str) -> str:
    """SHA-256 (hex) of the document's canonical JSON form.

    Whitespace and key order do not change the digest; any change of content does (including
    the spelling of numbers, e.g. ``1`` versus ``1.0``). Raises PackageError on invalid JSON.
    """
    canonical = json.dumps(
        _decode_json(data, DEFAULT_SOURCE),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def example_package_path() -> Path:
    """Path of the example package shipped with the kiosk software."""
    resource = importlib.resources.files("device") / "examples" / "assembly-line-operator.json"
    return Path(str(resource))


def package_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the package format."""
    schema = JobPackage.model_json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": SCHEMA_ID, **schema}


def write_schema(path: Path) -> None:
    """Write the package JSON Schema to ``path`` (UTF-8, two-space indent, final newline)."""
    text = json.dumps(package_json_schema(), indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m device.jobs.package", description="Job package tools."
    )
    parser.add_argument(
        "--write-schema", metavar="PATH", type=Path, help="write the package JSON Schema to PATH"
    )
    parser.add_argument("packages", nargs="*", type=Path, help="package files to check")
    args = parser.parse_args(argv)
    if args.write_schema is None and not args.packages:
        parser.error("nothing to do: give --write-schema PATH and/or package files to check")
    if args.write_schema is not None:
        write_schema(args.write_schema)
        sys.stdout.write(f"wrote {args.write_schema}\n")
    status = 0
    for path in args.packages:
        try:
            package = load_package(path)
        except PackageError as exc:
            status = 1
            sys.stderr.write(f"{exc.source}: invalid job package\n")
            sys.stderr.writelines(f"  {problem}\n" for problem in exc.problems)
            continue
        digest = package_digest(path.read_bytes())
        sys.stdout.write(
            f"{path}: ok: job {package.job.id} version {package.package_version},"
            f" {len(package.items)} items, digest {digest[:16]}\n"
        )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
