"""The reference central receiver: the central side of the box-to-central contract.

Stores what boxes send (HTTPS or MQTT), dedupes by message id, delivers each session's
messages in order, acks only what is durably stored, takes resumable media uploads, and
signs and publishes documents (job packages, rosters, config, deletion requests)::

    receiver = Receiver(data_dir, mqtt=MqttSettings("127.0.0.1", 8883, ca=..., cert=..., key=...))
    receiver.start_mqtt()
    with ServerThread(receiver.app, port=8443, tls=TlsSettings(cert, key, client_ca)):
        ...
    receiver.close()
"""

from central.core import Receiver
from central.documents import DocumentRequest, load_or_create_key
from central.errors import (
    ConflictError,
    InvalidContentError,
    MqttConnectError,
    MqttRefusedError,
    NotFoundError,
    ReceiverError,
)
from central.faults import Faults
from central.mqtt import MqttSettings
from central.server import ServerThread, TlsSettings

__all__ = [
    "ConflictError",
    "DocumentRequest",
    "Faults",
    "InvalidContentError",
    "MqttConnectError",
    "MqttRefusedError",
    "MqttSettings",
    "NotFoundError",
    "Receiver",
    "ReceiverError",
    "ServerThread",
    "TlsSettings",
    "load_or_create_key",
]
