"""Schema of the kiosk database, as sqlite-utils migrations (applied in order, once)."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("kiosk")

SESSION_STATES = (
    "invited",
    "checked_in",
    "consented",
    "in_progress",
    "paused",
    "completed",
    "terminated",
    "revoked",
    "expired",
    "declined",
)

_SCHEMA_1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('message_seq', '0');

CREATE TABLE job_packages (
    job_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    body TEXT NOT NULL,
    source TEXT NOT NULL,
    imported TEXT NOT NULL,
    PRIMARY KEY (job_id, version)
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    language TEXT NOT NULL,
    cost_centre TEXT NOT NULL,
    active_version INTEGER NOT NULL,
    updated TEXT NOT NULL,
    FOREIGN KEY (id, active_version) REFERENCES job_packages (job_id, version)
);

CREATE TABLE question_sets (
    job_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('question', 'demonstration')),
    body TEXT NOT NULL,
    PRIMARY KEY (job_id, version, position),
    UNIQUE (job_id, version, item_id),
    FOREIGN KEY (job_id, version) REFERENCES job_packages (job_id, version)
);

CREATE TABLE candidates (
    id TEXT PRIMARY KEY,
    display_name TEXT,
    language TEXT,
    extra_time_pct INTEGER NOT NULL DEFAULT 0 CHECK (extra_time_pct BETWEEN 0 AND 200),
    important INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    erased TEXT
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    candidate_id TEXT NOT NULL REFERENCES candidates (id),
    job_id TEXT NOT NULL,
    job_version INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN (@STATES@)),
    previous_state TEXT,
    drill INTEGER NOT NULL DEFAULT 0,
    important INTEGER NOT NULL DEFAULT 0,
    extra_time_pct INTEGER NOT NULL DEFAULT 0,
    language TEXT,
    position INTEGER NOT NULL DEFAULT 0,
    invite_hash TEXT UNIQUE,
    resume_hash TEXT UNIQUE,
    token_hash TEXT UNIQUE,
    consent_version TEXT,
    expression_consent INTEGER,
    state_reason TEXT,
    state_actor TEXT,
    created TEXT NOT NULL,
    state_since TEXT NOT NULL,
    started TEXT,
    ended TEXT,
    FOREIGN KEY (job_id, job_version) REFERENCES job_packages (job_id, version)
);
CREATE INDEX sessions_state ON sessions (state);
CREATE INDEX sessions_job ON sessions (job_id);

CREATE TABLE answers (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    item_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (
        state IN ('presented', 'recording', 'finished', 'superseded', 'interrupted')
    ),
    retake INTEGER NOT NULL DEFAULT 0,
    presented TEXT NOT NULL,
    started TEXT,
    ended TEXT,
    duration_s REAL,
    timed_out INTEGER NOT NULL DEFAULT 0,
    UNIQUE (session_id, item_id, attempt)
);
CREATE INDEX answers_session ON answers (session_id, position);

CREATE TABLE results (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (session_id, kind)
);

CREATE TABLE media (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    answer_id TEXT REFERENCES answers (id),
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT,
    encrypted INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    acked TEXT,
    purged TEXT
);

CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    reason TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    session_id TEXT,
    priority INTEGER NOT NULL,
    payload TEXT NOT NULL,
    created TEXT NOT NULL,
    hold_until TEXT,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'acked')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt TEXT,
    acked TEXT,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox (status, priority, seq);

CREATE TABLE inbox (
    message_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    received TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    applied TEXT
);

CREATE TABLE usage (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id),
    job_id TEXT NOT NULL,
    cost_centre TEXT NOT NULL,
    drill INTEGER NOT NULL,
    active_s REAL NOT NULL DEFAULT 0,
    paused_s REAL NOT NULL DEFAULT 0,
    answer_s REAL NOT NULL DEFAULT 0,
    answers INTEGER NOT NULL DEFAULT 0,
    pauses INTEGER NOT NULL DEFAULT 0,
    analysis_cpu_s REAL NOT NULL DEFAULT 0,
    media_bytes INTEGER NOT NULL DEFAULT 0,
    updated TEXT NOT NULL
);

CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('technician', 'site_hr', 'admin')),
    jobs TEXT NOT NULL DEFAULT '[]',
    token_hash TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    revoked TEXT
);
"""


@migrations()
def m001_initial_schema(db: Database) -> None:
    script = _SCHEMA_1.replace("@STATES@", ", ".join(f"'{s}'" for s in SESSION_STATES))
    for statement in _split(script):
        db.conn.execute(statement)


def _split(script: str) -> list[str]:
    """Split a schema script into statements (triggers keep their inner semicolons)."""
    out: list[str] = []
    buf: list[str] = []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined.endswith(";") and (not joined.upper().startswith("CREATE TRIGGER")
                                     or joined.upper().endswith("END;")):
            out.append(joined)
            buf = []
    if "".join(buf).strip():
        out.append("\n".join(buf))
    return out


_SCHEMA_2 = """
CREATE TABLE analyses (
    answer_id TEXT PRIMARY KEY REFERENCES answers (id),
    session_id TEXT NOT NULL REFERENCES sessions (id),
    item_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('question', 'demonstration')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    body TEXT,
    error TEXT,
    cpu_s REAL NOT NULL DEFAULT 0,
    updated TEXT NOT NULL
);
CREATE INDEX analyses_session ON analyses (session_id);
CREATE INDEX analyses_status ON analyses (status);

CREATE TABLE checklists (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    item_id TEXT NOT NULL,
    point_id TEXT NOT NULL,
    passed INTEGER NOT NULL CHECK (passed IN (0, 1)),
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (session_id, item_id, point_id)
);

ALTER TABLE answers ADD COLUMN follow_up TEXT;
"""


@migrations()
def m002_analysis(db: Database) -> None:
    """Per-answer analysis results (resumable after a crash) and staff checklist scores."""
    for statement in _split(_SCHEMA_2):
        db.conn.execute(statement)


_SCHEMA_3 = """
ALTER TABLE outbox ADD COLUMN session_seq INTEGER;
ALTER TABLE outbox ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
UPDATE outbox SET bytes = length(payload);

CREATE INDEX outbox_waiting ON outbox (priority, seq) WHERE status = 'pending';
CREATE INDEX outbox_waiting_session ON outbox (session_id, seq) WHERE status = 'pending';

CREATE TABLE session_seqs (
    session_id TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);

ALTER TABLE inbox ADD COLUMN doc_kind TEXT;
ALTER TABLE inbox ADD COLUMN scope TEXT;
ALTER TABLE inbox ADD COLUMN version INTEGER;
ALTER TABLE inbox ADD COLUMN digest TEXT;
ALTER TABLE inbox ADD COLUMN via TEXT;

CREATE TABLE document_versions (
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    document_id TEXT NOT NULL,
    applied TEXT NOT NULL,
    PRIMARY KEY (kind, scope)
);

CREATE TABLE central_settings (
    section TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    document_id TEXT NOT NULL,
    PRIMARY KEY (section, key)
);

CREATE TABLE sync_link (
    transport TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    since TEXT NOT NULL,
    detail TEXT,
    reconnects INTEGER NOT NULL DEFAULT 0,
    sent INTEGER NOT NULL DEFAULT 0,
    acked INTEGER NOT NULL DEFAULT 0,
    updated TEXT NOT NULL
);
"""


@migrations()
def m003_sync(db: Database) -> None:
    """Delivery order per session, signed documents from central, link state for staff."""
    for statement in _split(_SCHEMA_3):
        db.conn.execute(statement)


_SCHEMA_4 = """
ALTER TABLE media ADD COLUMN key_id TEXT;
ALTER TABLE media ADD COLUMN duration_s REAL;
ALTER TABLE sessions ADD COLUMN receipt_hash TEXT;

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    session_id TEXT,
    raised TEXT NOT NULL,
    cleared TEXT
);

CREATE INDEX alerts_open ON alerts (raised) WHERE cleared IS NULL;
"""


@migrations()
def m004_capture(db: Database) -> None:
    """Encrypted recordings name their key; device alerts for staff; the candidate's receipt
    stays readable for a short while after the session ends."""
    for statement in _split(_SCHEMA_4):
        db.conn.execute(statement)


_SCHEMA_5 = """
CREATE TABLE sync_control (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    metered INTEGER CHECK (metered IN (0, 1)),
    bandwidth_kbps INTEGER CHECK (bandwidth_kbps >= 0),
    retry_requested TEXT,
    retries INTEGER NOT NULL DEFAULT 0,
    updated TEXT,
    updated_by TEXT
);
INSERT INTO sync_control (id) VALUES (1);

ALTER TABLE sync_link ADD COLUMN last_ack TEXT;
ALTER TABLE sync_link ADD COLUMN last_error TEXT;
ALTER TABLE sync_link ADD COLUMN last_error_at TEXT;
"""


@migrations()
def m005_sync_control(db: Database) -> None:
    """The technician's delivery controls (pause, metered, bandwidth, retry now), and the
    link's last ack and last error for staff."""
    for statement in _split(_SCHEMA_5):
        db.conn.execute(statement)


@migrations()
def m006_live_transcript(db: Database) -> None:
    """The transcript recognised while an answer was spoken, kept with the answer when the
    live recogniser heard all of it, so the analysis need not decode the recording again."""
    db.conn.execute("ALTER TABLE answers ADD COLUMN live_transcript TEXT")


@migrations()
def m007_retention_purge(db: Database) -> None:
    """When a session's personal data was purged at its job's retention age (the row stays
    as an anonymous tombstone: id, job, states and times)."""
    db.conn.execute("ALTER TABLE sessions ADD COLUMN purged TEXT")
