"""Assembling the sync agent from the configuration (what ``kiosk sync`` runs)."""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

from device.central_link.outbox import Identity
from device.config import KioskConfig
from device.errors import ConfigError
from device.storage import meta
from device.storage.database import Store
from device.storage.media_crypto import MediaKey
from sync_agent.agent import Link, SyncAgent
from sync_agent.errors import LinkError
from sync_agent.events import DocumentReceived, Event
from sync_agent.https_link import HttpsLink
from sync_agent.media import MediaUploader
from sync_agent.mqtt_link import MqttLink
from sync_agent.tls import TlsFiles

log = logging.getLogger(__name__)

CURSOR_KEY = "documents_cursor"


@dataclass
class AgentProcess:
    """A built sync agent with the store and links it owns; :meth:`run` until stopped."""

    agent: SyncAgent
    store: Store
    closers: list[Any] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        try:
            self.agent.run(stop)
        finally:
            self.close()

    def close(self) -> None:
        for close in reversed(self.closers):
            close()
        self.closers.clear()


def build(config: KioskConfig, store: Store) -> AgentProcess:
    """The agent for this box; :class:`ConfigError` when the box is not provisioned for it."""
    from device.central_link.erasure import finish_pending
    from device.central_link.settings import effective_config
    from device.jobs.language_gate import LanguageGate
    from device.sessions.codes import load_or_create_key
    from device.sessions.engine import Engine

    config = effective_config(config, store)  # with the settings central has sent
    sync = config.sync
    identity = Identity(config.device.id, config.device.tenant, config.device.site)
    # Rosters from central create sessions through the same engine the kiosk uses.
    # Job packages and rosters are gated on the languages the box can analyse.
    engine = Engine(store, config.session, identity,
                    load_or_create_key(config.secrets_dir / "codes.key"),
                    languages=LanguageGate.for_config(config))
    finish_pending(store, identity)  # an erasure a crash interrupted gets its receipt
    try:
        tls = TlsFiles.from_config(config).context()
    except LinkError as exc:
        raise ConfigError(str(exc)) from None
    public_key = _signing_key(config)
    events: queue.Queue[Event] = queue.Queue()
    closers: list[Any] = []

    https: HttpsLink | None = None
    if sync.https_url:
        https = HttpsLink(identity, sync.https_url, tls, events=events)
        closers.append(https.shutdown)
    link: Link
    publish_status = None
    if sync.transport == "mqtt":
        mqtt = MqttLink(identity, sync.mqtt_host, sync.mqtt_port, tls,
                        keepalive_s=sync.keepalive_s, session_expiry_s=sync.session_expiry_s,
                        events=events)
        link, publish_status = mqtt, mqtt.publish_status
    elif https is None:
        raise ConfigError("[sync] transport = 'https' needs [sync] https_url")
    else:
        link = https

    uploader = None
    if sync.https_url:
        media_link = HttpsLink(identity, sync.https_url, tls, events=events,
                               timeout_s=120.0)
        closers.append(media_link.shutdown)
        agent_ref: list[SyncAgent] = []

        def upload(media_id: str, path: Any, meta: dict[str, Any]) -> int:
            throttle = agent_ref[0].controls.throttle
            return media_link.upload(media_id, path, meta, sync.chunk_bytes, throttle.take)

        # recordings are sealed at rest: the upload reads them back as plaintext
        key = MediaKey.load_or_create(config.secrets_dir / "media.key")
        uploader = MediaUploader(upload, events, media_key=key)

    def on_document(data: bytes, via: str) -> str:
        from device.central_link.inbound import apply_document

        outcome = apply_document(store, identity, data, public_key, via=via,
                                 max_bytes=sync.max_document_bytes, engine=engine)
        if outcome.status == "applied" and outcome.kind == "config":
            agent.reconfigure(effective_config(config, store))
        return f"{outcome.status}{': ' + outcome.reason if outcome.reason else ''}"

    poll = None
    if https is not None:
        poller = https

        def poll() -> None:
            found = meta.load(store, CURSOR_KEY)
            after = int(found) if found is not None else 0
            documents, cursor = poller.fetch_documents(after)
            for data in documents:
                events.put(DocumentReceived(data, "https"))
            if cursor != after:
                with store.transaction() as db:
                    meta.put(db, CURSOR_KEY, str(cursor))

    agent = SyncAgent(config, store, link, events, on_document=on_document, uploader=uploader,
                      poll=poll, publish_status=publish_status)
    if uploader is not None:
        agent_ref.append(agent)
    return AgentProcess(agent, store, closers)


def _signing_key(config: KioskConfig) -> Any:
    from shared.signing import SignatureError, load_public_key

    path = config.secret(config.sync.signing_key_file, "central-signing.pub")
    try:
        return load_public_key(path)
    except SignatureError as exc:
        raise ConfigError(str(exc)) from None
