"""``kiosk devices``: the microphones and cameras this box sees, and which one is used."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from device.config import KioskConfig


def register(sub: Any) -> None:
    p = sub.add_parser(
        "devices", help="List microphones and cameras, and which ones the settings pick.",
        description="List the audio inputs PortAudio sees (index, name, channels, default rate)"
        " and the cameras (Pi camera via picamera2, /dev/video*, the configured source), and"
        " say which microphone and camera [capture] selects. Use an index or part of a name"
        " as [capture] microphone.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_devices)


def cmd_devices(args: argparse.Namespace, config: KioskConfig) -> int:
    from device.capture.camera import list_cameras
    from device.capture.devices import list_microphones
    from device.capture.health import cpu_temperature_c, load

    c = config.capture
    problem = None
    try:
        mics = list_microphones()
    except Exception as exc:  # PortAudio missing or broken: still list the cameras
        mics, problem = [], str(exc)
    cameras = list_cameras(c)
    found: dict[str, Any] = {
        "microphones": [asdict(m) for m in mics],
        "microphone_setting": c.microphone,
        "microphone_problem": problem,
        "cameras": [asdict(cam) for cam in cameras],
        "camera_setting": {"camera": c.camera, "camera_source": c.camera_source},
        "system": {"cpu_temperature_c": cpu_temperature_c(), **load()},
    }
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    print(f"Microphones (setting: microphone = {c.microphone!r})")
    if problem:
        print(f"  cannot list audio inputs: {problem}")
    elif not mics:
        print("  none: no audio input device is present")
    for m in mics:
        mark = "  (default)" if m.is_default else ""
        print(f"  [{m.index}] {m.name}: {m.channels} ch, {m.default_rate:g} Hz{mark}")
    print(f"Cameras (setting: camera = {c.camera!r}, camera_source = {c.camera_source!r})")
    if not cameras:
        print("  none: no Pi camera, no /dev/video*, no source configured")
    for cam in cameras:
        state = "usable" if cam.usable else f"not usable: {cam.problem}"
        print(f"  {cam.backend}: {cam.source} - {cam.description} ({state})")
    temp = found["system"]["cpu_temperature_c"]
    print(f"CPU temperature: {'unknown' if temp is None else f'{temp:.1f} °C'};"
          f" load {found['system']['load1']:.2f}")
    return 0
