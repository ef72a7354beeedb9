"""TLS for both transports: central's CA pinned, the device certificate when provisioned."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from device.central_link.tls_files import TlsPaths
from sync_agent.errors import LinkError


@dataclass(frozen=True)
class TlsFiles(TlsPaths):
    """The box's TLS files, and the client context built from them."""

    def context(self) -> ssl.SSLContext:
        """A client context trusting only central's CA (not the system store)."""
        try:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca))
        except (OSError, ssl.SSLError) as exc:
            raise LinkError(f"{self.ca}: central's CA certificate cannot be loaded ({exc});"
                            " the box cannot talk to central until it is provisioned") from None
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert is not None:
            try:
                ctx.load_cert_chain(str(self.cert), str(self.key) if self.key else None)
            except (OSError, ssl.SSLError) as exc:
                raise LinkError(
                    f"{self.cert}: the device certificate or its key cannot be loaded ({exc})"
                ) from None
        return ctx
