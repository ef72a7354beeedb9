"""Generate the JSON Schemas and the local API's OpenAPI document into ``docs/schemas``.

    python -m device.schemas docs/schemas      (or: make schemas)

A test fails when the committed files differ from what the models generate.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.config import KioskConfig
from device.config_loader import load_config
from device.jobs.package import package_json_schema
from device.sessions.roster import roster_json_schema
from shared.contract import Ack, ConfigBody, DeletionBody, Envelope, SignedDocument, Status

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _envelope() -> dict[str, Any]:
    return {"$schema": DRAFT, "$id": "https://schemas.kiosk.local/v1/envelope.json",
            **Envelope.model_json_schema()}


def _config() -> dict[str, Any]:
    return {"$schema": DRAFT, "$id": "https://schemas.kiosk.local/config.json",
            **KioskConfig.model_json_schema()}


def _openapi() -> dict[str, Any]:
    from device.api.app import create_app
    from device.composition import open_kiosk

    with tempfile.TemporaryDirectory() as tmp:
        kiosk = open_kiosk(load_config(None, {"KIOSK_DATA_DIR": tmp}))
        try:
            return create_app(kiosk, sweep=False).openapi()
        finally:
            kiosk.close()


def _report() -> dict[str, Any]:
    from inference.report.models import Report

    return _titled(Report.model_json_schema(), "Interview report (kiosk-report/1)")


def _model_manifest() -> dict[str, Any]:
    from inference.models.manifest import Manifest

    return _titled(Manifest.model_json_schema(), "Model manifest (kiosk-model-manifest/1)")


def _contract(model: type[Any], name: str, title: str) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        return {"$schema": DRAFT, "$id": f"https://schemas.kiosk.local/v1/{name}",
                **model.model_json_schema(), "title": title}

    return build


def _titled(schema: dict[str, Any], title: str) -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": title}


GENERATED: dict[str, Callable[[], dict[str, Any]]] = {
    "job-package.schema.json": package_json_schema,
    "roster.schema.json": roster_json_schema,
    "message-envelope.schema.json": _envelope,
    "ack.schema.json": _contract(Ack, "ack.json", "Central's application-level ack"),
    "signed-document.schema.json": _contract(
        SignedDocument, "signed-document.json", "Signed document from central"),
    "config-document.schema.json": _contract(
        ConfigBody, "config-document.json", "Body of a config document"),
    "deletion-document.schema.json": _contract(
        DeletionBody, "deletion-document.json", "Body of a deletion request"),
    "device-status.schema.json": _contract(Status, "device-status.json", "Retained link status"),
    "config.schema.json": _config,
    "local-api.openapi.json": _openapi,
    "report.schema.json": _report,
    "model-manifest.schema.json": _model_manifest,
}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in GENERATED.items():
        path = directory / name
        path.write_text(render(build()), encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, nargs="?", default=Path("docs/schemas"))
    for path in write_all(parser.parse_args().directory):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
