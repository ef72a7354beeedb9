"""Delivering what central learns to the company's HR system.

Central turns some delivered messages into *events* (``interview.completed``,
``report.ready``; :mod:`central.webhooks.events`), written in the same transaction as
the message, so none is lost. Each event has a global ``sequence`` (the cursor of the
pull API) and a stable ``event_id`` consumers deduplicate by. Each active webhook
endpoint gets a delivery of every event it subscribes to, signed with its secret
(:mod:`central.webhooks.signing`) and retried with backoff until it is accepted or
dead-lettered (:mod:`central.webhooks.delivery`); a dead letter can be replayed.
"""
