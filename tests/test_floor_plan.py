"""The floor plan holds: each database table is written by its one owner module, read only by
it or by a read-only join its owner documents, and no API route or sync agent module holds
SQL; no test file imports another. The package arrows themselves are import-linter's
contracts (``lint-imports`` in ``make test``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Code that runs on the box or drives it (central has its own database and store).
BOX = ("device", "sync_agent", "provisioning", "kiosk", "tui", "inference", "shared")
#: The schema itself, and the module that opens the database, name every table.
SCHEMA = {"device/storage/migrations.py", "device/storage/database.py"}
#: Modules that query central's database (the demo's in-process central), not the box's.
CENTRALS = {"kiosk/demo/central.py"}

OWNERS = {
    "alerts": "device/ops/alerts.py",
    "analyses": "device/analysis/analysis_rows.py",
    "answers": "device/sessions/answer_rows.py",
    "audit": "device/audit.py",
    "candidates": "device/sessions/candidate_rows.py",
    "central_settings": "device/central_link/settings.py",
    "checklists": "device/analysis/checklists.py",
    "document_versions": "device/central_link/inbox.py",
    "inbox": "device/central_link/inbox.py",
    "job_packages": "device/jobs/installed.py",
    "jobs": "device/jobs/installed.py",
    "media": "device/storage/media.py",
    "meta": "device/storage/meta.py",
    "outbox": "device/central_link/outbox.py",
    "question_sets": "device/jobs/installed.py",
    "results": "device/sessions/results.py",
    "session_seqs": "device/central_link/outbox.py",
    "sessions": "device/sessions/session_rows.py",
    "sync_control": "device/central_link/sync_control.py",
    "sync_link": "device/central_link/link_state.py",
    "tokens": "device/staff/tokens.py",
    "usage": "device/sessions/usage.py",
}
#: Read-only joins, each documented in the reading owner: (table read, module reading it).
JOINS = {
    ("sessions", "device/analysis/analysis_rows.py"),  # the worker's next job, last failure
    ("answers", "device/analysis/analysis_rows.py"),  # the worker's next job
    ("analyses", "device/sessions/answer_rows.py"),  # a session's answers with analyses
    ("sessions", "device/sessions/answer_rows.py"),  # answers of sessions in a state
    ("candidates", "device/sessions/session_rows.py"),  # a session with its display name
    ("sessions", "device/storage/media.py"),  # a recording's job, for staff visibility
}

WRITE = re.compile(r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+([a-z_]+)\b")
READ = re.compile(r"\b(?:FROM|JOIN)\s+([a-z_]+)\b")
SQL = re.compile(r"\b(?:SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+[a-z_]+\s+SET|DELETE\s+FROM)\b",
                 re.S)


def box_modules() -> list[Path]:
    return sorted(p for package in BOX for p in (ROOT / package).rglob("*.py"))


def sql_strings(path: Path) -> list[str]:
    """The string literals of a module that read as SQL (f-strings with their fixed parts)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values
                           if isinstance(v, ast.Constant) and isinstance(v.value, str))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if SQL.search(text):
            found.append(text)
    return found


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_every_table_has_an_owner_listed() -> None:
    schema = (ROOT / "device/storage/migrations.py").read_text(encoding="utf-8")
    tables = set(re.findall(r'create_table\(\s*"([a-z_]+)"', schema))
    tables |= set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)", schema))
    assert tables == set(OWNERS), sorted(tables ^ set(OWNERS))


def test_each_table_is_written_by_its_owner_and_read_by_it_or_a_documented_join() -> None:
    wrong, joined = [], set()
    for path in box_modules():
        where = rel(path)
        if where in SCHEMA | CENTRALS:
            continue
        for text in sql_strings(path):
            for table in WRITE.findall(text):
                if table in OWNERS and OWNERS[table] != where:
                    wrong.append(f"{where} writes {table} (owner: {OWNERS[table]})")
            for table in READ.findall(text):
                if (table, where) in JOINS:
                    joined.add((table, where))
                elif table in OWNERS and OWNERS[table] != where:
                    wrong.append(f"{where} reads {table} (owner: {OWNERS[table]})")
    assert not wrong, "\n".join(sorted(set(wrong)))
    assert joined == JOINS, f"joins listed but gone: {sorted(JOINS - joined)}"


@pytest.mark.parametrize("package", ["device/api", "sync_agent", "tui", "inference"])
def test_no_sql_in_api_routes_the_sync_agent_the_tui_or_inference(package: str) -> None:
    holding = {rel(p): sql_strings(p)[0][:80] for p in sorted((ROOT / package).rglob("*.py"))
               if sql_strings(p)}
    assert not holding, holding


def test_no_test_file_imports_another() -> None:
    importing = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            importing += [f"{path.name} imports {n}" for n in names if n.startswith("test_")]
    assert not importing, importing
