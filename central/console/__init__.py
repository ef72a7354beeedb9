"""Central HR's console: candidates, reports and decisions for HR, aggregates for the
general manager, the fleet and the audit log for the admin (docs/hr-console.md).

``create_app(store, secure=...)`` makes the console's app; it is served on a port of its
own (``kiosk central console``), never beside the boxes' ingest.
"""

from central.console.app import create_app

__all__ = ["create_app"]
