"""Configuration: defaults, file, environment, and one clear line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.config_loader import env_names, load_config
from device.errors import ConfigError
from kiosk.cli import main


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file() -> None:
    config = load_config(None, {})
    assert config.api.host == "127.0.0.1"
    assert config.api.port == 8470
    assert config.session.resume_window_h == 24
    assert config.session.undo_window_min == 10


def test_file_then_environment_precedence(tmp_path: Path) -> None:
    path = write(tmp_path, '[api]\nport = 9001\nhost = "127.0.0.2"\n[device]\nid = "box-7"\n')
    config = load_config(path, {"KIOSK_API_PORT": "9002", "KIOSK_DATA_DIR": str(tmp_path)})
    assert config.api.port == 9002  # environment wins
    assert config.api.host == "127.0.0.2"  # file
    assert config.device.id == "box-7"
    assert config.data_dir == tmp_path


def test_kiosk_config_variable_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[session]\nresume_window_h = 48\n")
    assert load_config(None, {"KIOSK_CONFIG": str(path)}).session.resume_window_h == 48


def test_bad_value_names_file_key_and_expectation(tmp_path: Path) -> None:
    path = write(tmp_path, '[api]\nport = "eighty"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    message = str(err.value)
    assert str(path) in message and "[api] port" in message and "integer" in message
    assert "\n" not in message


def test_unknown_key_is_refused_with_the_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "[api]\nprot = 1\n")
    with pytest.raises(ConfigError,
                       match=r"unknown key \[api\] prot .*allowed here: forwarded_allow_ips, host"):
        load_config(path, {})


def test_unknown_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key camera"):
        load_config(write(tmp_path, "[camera]\nfps = 5\n"), {})


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^KIOSK_SESSION_UNDO_WINDOW_MIN: \[session\]"):
        load_config(None, {"KIOSK_SESSION_UNDO_WINDOW_MIN": "-1"})


def test_the_site_time_zone_is_utc_unless_set_to_an_iana_name(tmp_path: Path) -> None:
    assert load_config(None, {}).site.time_zone == "UTC"
    path = write(tmp_path, '[site]\ntime_zone = "Asia/Shanghai"\n')
    assert load_config(path, {}).site.time_zone == "Asia/Shanghai"


@pytest.mark.parametrize("zone", ["Asia/Shanghia", "Asia", "CST", "+08:00", "../etc/passwd", ""])
def test_a_time_zone_the_box_does_not_know_is_refused_naming_it(tmp_path: Path, zone: str
                                                                ) -> None:
    path = write(tmp_path, f'[site]\ntime_zone = "{zone}"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    assert str(err.value).startswith(f"{path}: [site] time_zone: ")
    assert "IANA time zone" in str(err.value) and f"got {zone!r}" in str(err.value)
    with pytest.raises(ConfigError, match=r"^KIOSK_SITE_TIME_ZONE: \[site\] time_zone: .*"
                                          r"got 'Mars/Olympus'"):
        load_config(None, {"KIOSK_SITE_TIME_ZONE": "Mars/Olympus"})


def test_unknown_environment_variable_is_refused() -> None:
    with pytest.raises(ConfigError, match="KIOSK_API_PROT: not a setting"):
        load_config(None, {"KIOSK_API_PROT": "1"})


def test_every_setting_can_come_from_its_environment_variable() -> None:
    samples = {"KIOSK_DATA_DIR": "/srv/kiosk", "KIOSK_API_UNIX_SOCKET": "/run/kiosk.sock",
               "KIOSK_LOGGING_LEVEL": "DEBUG", "KIOSK_LOGGING_FORMAT": "text",
               "KIOSK_API_HOST": "127.0.0.9", "KIOSK_DEVICE_ID": "box-9",
               "KIOSK_DEVICE_TENANT": "acme", "KIOSK_DEVICE_SITE": "plant-3",
               "KIOSK_SITE_TIME_ZONE": "Asia/Shanghai",
               "KIOSK_STORE_CHECK_INTEGRITY": "false", "KIOSK_API_MAX_BODY_BYTES": "4096",
               "KIOSK_SESSION_CHECKIN_LOCKOUT_S": "7", "KIOSK_SESSION_CODE_LENGTH": "7",
               "KIOSK_ANALYSIS_ENABLED": "false", "KIOSK_ANALYSIS_MODELS_DIR": "/srv/models",
               "KIOSK_ANALYSIS_REPORT_LANGUAGE": "ko", "KIOSK_ANALYSIS_PAUSE_THRESHOLD_S": "2",
               "KIOSK_SYNC_ENABLED": "false", "KIOSK_SYNC_TRANSPORT": "https",
               "KIOSK_SYNC_CHUNK_BYTES": "65536", "KIOSK_SYNC_METERED": "true",
               "KIOSK_SYNC_UPLOAD_MEDIA": "true", "KIOSK_SYNC_MAX_DOCUMENT_BYTES": "65536",
               "KIOSK_STORAGE_QUOTA_MB": "64", "KIOSK_STORAGE_ACKED_RETENTION_DAYS": "2",
               "KIOSK_CAPTURE_ENABLED": "false", "KIOSK_CAPTURE_MICROPHONE": "pulse",
               "KIOSK_CAPTURE_CAMERA": "file", "KIOSK_CAPTURE_CAMERA_SOURCE": "/srv/a.mp4",
               "KIOSK_CAPTURE_LOOP": "true", "KIOSK_CAPTURE_PREVIEW_FPS": "3",
               "KIOSK_CAPTURE_FRAMING_RATE": "1", "KIOSK_CAPTURE_BUFFER_S": "3",
               "KIOSK_CAPTURE_REQUIRE_MICROPHONE": "false",
               "KIOSK_CAPTURE_REQUIRE_CAMERA": "false", "KIOSK_CAPTURE_LOST_AFTER_S": "3",
               "KIOSK_CAPTURE_ENCRYPT": "false", "KIOSK_CAPTURE_CHANNELS": "2",
               "KIOSK_CAPTURE_SAMPLE_RATE": "8000", "KIOSK_CAPTURE_BLOCK_MS": "20",
               "KIOSK_CAPTURE_VIDEO_WIDTH": "640", "KIOSK_CAPTURE_VIDEO_HEIGHT": "480",
               "KIOSK_CAPTURE_VIDEO_BITRATE_KBPS": "900", "KIOSK_CAPTURE_ANALYSIS_WIDTH": "160",
                   "KIOSK_ANALYSIS_SPEECH_HINTS": "prompt"}
    names = env_names()
    assert "KIOSK_DATA_DIR" in names and "KIOSK_API_PORT" in names
    defaults = load_config(None, {}).model_dump(mode="json")
    for name in names:
        value = samples.get(name, "7")
        dumped = load_config(None, {name: value}).model_dump(mode="json")
        assert dumped != defaults, f"{name} did not change any setting"


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[api\nport=1"), {})
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.toml", {})


def test_every_field_is_described() -> None:
    from device.config import KioskConfig

    schema = KioskConfig.model_json_schema()
    for definition in [schema, *schema["$defs"].values()]:
        for name, prop in definition["properties"].items():
            assert prop.get("description"), f"{definition.get('title')}.{name} has no description"


def test_cli_reports_a_config_error_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[api]\nport = 0\n")
    assert main(["--config", str(path), "config", "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("kiosk: configuration error:") and "[api] port" in err
