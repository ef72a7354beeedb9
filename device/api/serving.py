"""How the local API is served: the uvicorn options that follow from ``[api]``.

Forwarded headers are believed only from the proxies ``[api] forwarded_allow_ips``
names. Without one, ``X-Forwarded-For`` never changes the address a request came from,
so nothing that sends it can pass for another client.
"""

from __future__ import annotations

from typing import Any

from device.config import ApiConfig


def server_options(api: ApiConfig) -> dict[str, Any]:
    """Options for ``uvicorn.Config`` (besides the app and where to listen)."""
    proxies = [p.strip() for p in api.forwarded_allow_ips.split(",") if p.strip()]
    if not proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(proxies)}
