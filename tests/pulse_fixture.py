"""A private PulseAudio daemon with a null sink: real audio into the real microphone code.

``pulse`` (one per test session) and ``fresh_pulse`` (one per test, for tests that kill
the daemon) start the daemon of :mod:`kiosk.rigs.pulse_rig`; PortAudio then offers a
``pulse`` and a ``default`` input device that hear whatever the rig plays. A missing
PulseAudio fails the test with the command that installs it: it is never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiosk.rigs.pulse_rig import PulseRig, PulseRigError


def _started() -> PulseRig:
    try:
        return PulseRig().start()
    except PulseRigError as exc:
        pytest.fail(f"the PulseAudio test rig cannot start: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def pulse() -> Iterator[PulseRig]:
    """A PulseAudio daemon for the whole session (tests that kill it use ``fresh_pulse``)."""
    rig = _started()
    try:
        yield rig
    finally:
        rig.stop()


@pytest.fixture
def fresh_pulse() -> Iterator[PulseRig]:
    """A daemon of this test's own, free to be killed and restarted."""
    rig = _started()
    try:
        yield rig
    finally:
        rig.stop()
