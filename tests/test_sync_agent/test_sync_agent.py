"""The sync agent against a real Mosquitto and the reference receiver (smoke level)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_fixtures import Pki
from sync_harness import (
    Central,
    assert_exactly_once_in_order,
    box_config,
    produce,
    running_agent,
    wait_until,
)

from central.broker import Mosquitto
from device.central_link.outbox import Identity
from device.storage.database import Store

pytestmark = pytest.mark.integration


@pytest.fixture
def central(tmp_path: Path, pki: Pki, broker: Mosquitto) -> Iterator[Central]:
    c = Central(tmp_path / "central", pki, broker.port)
    yield c
    c.close()


def test_a_backlog_reaches_central_once_and_in_order_over_mqtt(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central) -> None:
    config = box_config(tmp_path / "box", pki, "dev-1", broker_port=broker.port,
                        key_file=central.key_file)
    store = Store(config.db_path)
    produce(store, Identity("dev-1", "acme", "plant-1"), sessions=5, per_session=6)
    with running_agent(config) as service:
        wait_until(service.agent.drained, 30, "the outbox to drain")
    store.close()
    assert_exactly_once_in_order(config.db_path, central, "dev-1")
