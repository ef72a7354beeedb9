"""Fault switches for tests and demonstrations: lose, duplicate and delay central's acks.

They act after a message is stored, so what they simulate is exactly a lost, repeated
or late application-level ack: the box must resend and central must dedupe.
"""

from __future__ import annotations

import random
import threading

from pydantic import BaseModel, ConfigDict, Field


class Faults(BaseModel):
    """Body of ``POST /v1/admin/faults``; fields left out are switched off."""

    model_config = ConfigDict(extra="forbid")

    drop_acks: float = Field(0.0, ge=0.0, le=1.0,
                             description="Probability that a message's ack is never sent.")
    duplicate_acks: bool = Field(False, description="Send every ack twice (MQTT).")
    delay_acks_s: float = Field(0.0, ge=0.0, le=600.0,
                                description="Hold every ack back this long before sending it.")


class FaultSwitch:
    """The current faults, shared by the HTTP API and the MQTT ack publisher."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = Faults()
        self._random = random.Random(seed)

    @property
    def current(self) -> Faults:
        with self._lock:
            return self._faults

    def set(self, faults: Faults) -> Faults:
        with self._lock:
            self._faults = faults
        return faults

    def drop(self) -> bool:
        """Whether to lose the ack of one message now."""
        with self._lock:
            p = self._faults.drop_acks
            return p > 0 and self._random.random() < p
