"""One screen per job: dashboard, sessions, sync, audit, self-test, logs, first boot."""
