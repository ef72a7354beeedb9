"""Is a failed TLS handshake the clock's fault? A box without a real-time clock can boot
in 1970, where every certificate is "not valid yet" and the handshake fails with an
unexplained CERTIFICATE_VERIFY_FAILED.

The clock is taken to be wrong when it reads earlier than this code was written
(:data:`BUILT`), earlier than central's CA certificate became valid, or when OpenSSL said
central's certificate is not valid yet. The link then says so, with the date the clock
shows, so whoever reads it sets the time instead of chasing certificates.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from cryptography import x509

from sync_agent.errors import TlsHandshakeError

log = logging.getLogger(__name__)

#: No clock showing a time before this can be right: this code did not exist yet.
BUILT = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
#: OpenSSL's X509_V_ERR_CERT_NOT_YET_VALID.
CERT_NOT_YET_VALID = 9


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def ca_valid_from(ca_file: Path) -> dt.datetime | None:
    """When the earliest certificate in ``ca_file`` became valid; None when unreadable."""
    try:
        certs = x509.load_pem_x509_certificates(ca_file.read_bytes())
    except (OSError, ValueError) as exc:
        log.debug("cannot read %s for its validity: %s", ca_file, exc)
        return None
    return min((c.not_valid_before_utc for c in certs), default=None)


def clock_advice(now: dt.datetime, ca_file: Path, verify_code: int | None) -> str | None:
    """"the clock is <date>; set the time" when the clock explains a failed handshake."""
    valid_from = ca_valid_from(ca_file)
    wrong = (now < BUILT or verify_code == CERT_NOT_YET_VALID
             or (valid_from is not None and now < valid_from))
    if not wrong:
        return None
    return f"the clock is {now.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; set the time"


def explain(exc: Exception, now: dt.datetime, ca_file: Path) -> str:
    """Why the link could not be made: the clock first when it is to blame."""
    if isinstance(exc, TlsHandshakeError):
        advice = clock_advice(now, ca_file, exc.verify_code)
        if advice is not None:
            return f"{advice} ({exc})"
    return str(exc)
