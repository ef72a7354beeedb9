"""Reading the configuration: one TOML file, validated once.

Precedence: built-in defaults < the TOML file < ``<data_dir>/enrolment.toml`` (written
by ``kiosk provision enroll``: the box's identity and central's addresses) < ``KIOSK_*``
environment variables. A top-level key ``data_dir`` is set by ``KIOSK_DATA_DIR``; a key
``port`` in the ``[api]`` table by ``KIOSK_API_PORT``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from device.config import KioskConfig
from device.enrolment_file import ENROLMENT_FILE, read_enrolment
from device.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (JetPack 6)
    import tomli as tomllib

#: Environment variables with a ``KIOSK_`` prefix that are not settings.
RESERVED_ENV = frozenset({"KIOSK_CONFIG", "KIOSK_TOKEN", "KIOSK_API_URL",
                          # the test suite's and benchmarks' own switches
                          "KIOSK_SOAK", "KIOSK_SOAK_CYCLES", "KIOSK_TEST_CACHE"})


def _sections() -> dict[str, type[BaseModel]]:
    out: dict[str, type[BaseModel]] = {}
    for name, field in KioskConfig.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out[name] = ann
    return out


def _env_overrides(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """Settings from ``KIOSK_*`` variables, and which variable set which key."""
    sections = _sections()
    data: dict[str, Any] = {}
    origin: dict[tuple[str, ...], str] = {}
    for var, value in sorted(environ.items()):
        if not var.startswith("KIOSK_") or var in RESERVED_ENV:
            continue
        rest = var[len("KIOSK_") :].lower()
        placed = False
        for section, model in sections.items():
            prefix = section + "_"
            key = rest[len(prefix) :]
            if rest.startswith(prefix) and key in model.model_fields:
                data.setdefault(section, {})[key] = value
                origin[(section, key)] = var
                placed = True
                break
        if not placed and rest in KioskConfig.model_fields and rest not in sections:
            data[rest] = value
            origin[(rest,)] = var
            placed = True
        if not placed:
            known = ", ".join(sorted(env_names()))
            raise ConfigError(f"{var}: not a setting (settings from the environment: {known})")
    return data, origin


def env_names() -> list[str]:
    """Every environment variable that sets a configuration key."""
    names = []
    sections = _sections()
    for name in KioskConfig.model_fields:
        if name in sections:
            names += [f"KIOSK_{name}_{k}".upper() for k in sections[name].model_fields]
        else:
            names.append(f"KIOSK_{name}".upper())
    return names


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _describe(error: Any, file_label: str, origin: dict[tuple[str, ...], str]) -> str:
    loc = tuple(str(p) for p in error["loc"])
    source = origin.get(loc, file_label)
    key = ".".join(loc) if len(loc) < 2 else f"[{loc[0]}] {'.'.join(loc[1:])}"
    if error["type"] == "extra_forbidden":
        section = _sections().get(loc[0]) if len(loc) > 1 else KioskConfig
        allowed = ", ".join(sorted(section.model_fields)) if section else ""
        return f"{source}: unknown key {key} (allowed here: {allowed})"
    got = error.get("input")
    expected = error["msg"][0].lower() + error["msg"][1:]
    shown = f", got {got!r}" if not isinstance(got, dict) else ""
    return f"{source}: {key}: {expected}{shown}"


def _enrolment_layer(file_data: dict[str, Any], env_data: dict[str, Any]
                     ) -> tuple[dict[str, Any], Path | None]:
    """The settings of ``<data_dir>/enrolment.toml`` (data_dir from the file and the env)."""
    data_dir = _merge(file_data, env_data).get("data_dir",
                                                KioskConfig.model_fields["data_dir"].default)
    path = Path(str(data_dir)) / ENROLMENT_FILE
    found = read_enrolment(path)
    if found is None:
        return {}, None
    return {k: v for k, v in found.items() if k != "enrolment"}, path


def load_config(
    path: Path | None = None, environ: Mapping[str, str] | None = None
) -> KioskConfig:
    """Load, merge and validate the configuration; raise ConfigError with one clear line.

    ``path`` comes from ``--config``; without it ``KIOSK_CONFIG`` is used; without that
    the built-in defaults apply (a laptop runs with no file at all).
    """
    env = os.environ if environ is None else environ
    if path is None and env.get("KIOSK_CONFIG"):
        path = Path(env["KIOSK_CONFIG"])
    file_data: dict[str, Any] = {}
    file_label = "defaults"
    if path is not None:
        file_label = str(path)
        try:
            file_data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: configuration file not found") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    env_data, origin = _env_overrides(env)
    enrolment, enrolment_path = _enrolment_layer(file_data, env_data)
    for section, values in enrolment.items():
        for key in values:
            origin.setdefault((section, key), f"{enrolment_path}")
    try:
        return KioskConfig.model_validate(_merge(_merge(file_data, enrolment), env_data))
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        line = _describe(first, file_label, origin)
        raise ConfigError(line + (f" (and {more} more)" if more else "")) from None
