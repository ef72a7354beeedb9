"""Recordings sealed at rest: real files, real AES-256-GCM, every way a file can be damaged."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import threading
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.storage.media_crypto import (
    HEADER_BYTES,
    MAGIC,
    TAG_BYTES,
    MediaCryptoError,
    MediaIntegrityError,
    MediaKey,
    is_sealed,
    plain_suffix,
    seal_file,
)
from device.storage.media_reader import SealedReader, clear_workdir, decrypted_copy

CHUNK = 64
KEY = MediaKey(bytes(range(32)))
OTHER_KEY = MediaKey(bytes(range(1, 33)))


def sealed_copy(tmp: Path, data: bytes, chunk: int = CHUNK, key: MediaKey = KEY,
                name: str = "answer.wav") -> Path:
    src = tmp / name
    src.write_bytes(data)
    dest = tmp / f"{name}.sealed"
    seal_file(src, dest, key, chunk_size=chunk)
    return dest


def read_all(path: Path, key: MediaKey = KEY) -> bytes:
    with SealedReader(path, key) as reader:
        return reader.read()


def chunk_offset(index: int, chunk: int = CHUNK) -> int:
    return HEADER_BYTES + index * (chunk + TAG_BYTES)


# --- round trips -----------------------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, CHUNK * 7 // 2])
def test_a_sealed_file_reads_back_as_its_plaintext(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    src = tmp_path / "answer.wav"
    src.write_bytes(data)
    dest = tmp_path / "answer.wav.sealed"
    info = seal_file(src, dest, KEY, chunk_size=CHUNK)
    chunks = max(1, -(-size // CHUNK))
    assert info.plain_bytes == size
    assert info.plain_sha256 == hashlib.sha256(data).hexdigest()
    assert info.key_id == KEY.key_id
    assert info.sealed_bytes == dest.stat().st_size == HEADER_BYTES + size + chunks * TAG_BYTES
    assert src.read_bytes() == data, "sealing leaves the source for the caller to delete"
    assert not (tmp_path / "answer.wav.sealed.part").exists()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert is_sealed(dest) and not is_sealed(src)
    if size >= 16:  # shorter runs can occur in any random bytes
        assert data[:16] not in dest.read_bytes(), "the plaintext is on disk in clear"
    with SealedReader(dest, KEY) as reader:
        assert reader.size == size and reader.chunks == chunks
        assert reader.read() == data
        assert reader.read() == b"" and reader.tell() == size


def test_the_header_follows_the_documented_layout(tmp_path: Path) -> None:
    a = sealed_copy(tmp_path, b"x" * 100, name="a.wav")
    b = sealed_copy(tmp_path, b"x" * 100, name="b.wav")
    header = a.read_bytes()[:HEADER_BYTES]
    magic, key_id, chunk, prefix = struct.unpack(">8s8sI8s", header)
    assert magic == MAGIC == b"KMEDIA1\0"
    assert key_id == bytes.fromhex(KEY.key_id) == hashlib.sha256(KEY.key).digest()[:8]
    assert chunk == CHUNK
    assert prefix != b.read_bytes()[HEADER_BYTES - 8:HEADER_BYTES], "nonce prefix reused"
    assert a.read_bytes()[HEADER_BYTES:] != b.read_bytes()[HEADER_BYTES:]


def test_the_default_chunk_is_one_mebibyte(tmp_path: Path) -> None:
    data = os.urandom((1 << 20) + 5)
    src = tmp_path / "v.mp4"
    src.write_bytes(data)
    info = seal_file(src, tmp_path / "v.mp4.sealed", KEY)
    assert info.sealed_bytes == HEADER_BYTES + len(data) + 2 * TAG_BYTES
    with SealedReader(tmp_path / "v.mp4.sealed", KEY) as reader:
        assert reader.chunk_size == 1 << 20 and reader.chunks == 2
        reader.seek((1 << 20) - 3)
        assert reader.read(8) == data[(1 << 20) - 3:(1 << 20) + 5]


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=1500), chunk=st.integers(1, 200),
       reads=st.lists(st.tuples(st.integers(0, 1600), st.integers(-1, 400)), max_size=8))
def test_random_sizes_and_random_reads_match_the_plaintext(
        tmp_path_factory: pytest.TempPathFactory, data: bytes, chunk: int,
        reads: list[tuple[int, int]]) -> None:
    sealed = sealed_copy(tmp_path_factory.mktemp("h"), data, chunk)
    with SealedReader(sealed, KEY) as reader:
        assert reader.size == len(data)
        for offset, length in reads:
            assert reader.seek(offset) == offset
            want = data[offset:] if length < 0 else data[offset:offset + length]
            assert reader.read(length) == want, (offset, length)
            assert reader.tell() == offset + len(want)
        reader.seek(0)
        assert reader.read() == data


def test_seek_from_the_current_position_and_from_the_end(tmp_path: Path) -> None:
    data = os.urandom(300)
    with SealedReader(sealed_copy(tmp_path, data), KEY) as reader:
        assert reader.seekable() and reader.readable() and not reader.writable()
        assert reader.seek(-10, io.SEEK_END) == 290
        assert reader.read() == data[-10:]
        reader.seek(100)
        assert reader.seek(30, io.SEEK_CUR) == 130
        assert reader.read(5) == data[130:135]
        assert reader.seek(1000) == 1000 and reader.read(10) == b"", "past the end reads empty"
        with pytest.raises(ValueError, match="negative seek position"):
            reader.seek(-1)
        with pytest.raises(ValueError, match="invalid whence"):
            reader.seek(0, 7)


def test_readinto_stops_at_a_chunk_boundary_and_buffered_reading_works(tmp_path: Path) -> None:
    data = os.urandom(CHUNK * 3)
    path = sealed_copy(tmp_path, data)
    with SealedReader(path, KEY) as reader:
        reader.seek(CHUNK - 4)
        buffer = bytearray(20)
        assert reader.readinto(buffer) == 4 and bytes(buffer[:4]) == data[CHUNK - 4:CHUNK]
    with io.BufferedReader(SealedReader(path, KEY), buffer_size=50) as buffered:
        assert buffered.read() == data


def test_a_closed_reader_refuses_reads(tmp_path: Path) -> None:
    reader = SealedReader(sealed_copy(tmp_path, b"abc"), KEY)
    reader.close()
    with pytest.raises(ValueError, match="closed sealed recording"):
        reader.read(1)


def test_reading_one_chunk_decrypts_only_that_chunk(tmp_path: Path) -> None:
    data = os.urandom(CHUNK * 4)
    path = sealed_copy(tmp_path, data)
    _flip(path, chunk_offset(0) + 3)
    with SealedReader(path, KEY) as reader:
        reader.seek(2 * CHUNK + 5)
        assert reader.read(10) == data[2 * CHUNK + 5:2 * CHUNK + 15]
        reader.seek(0)
        with pytest.raises(MediaIntegrityError, match="chunk 0 of"):
            reader.read(1)


def test_neither_sealing_nor_reading_holds_the_whole_file_in_memory(tmp_path: Path) -> None:
    size = 24 << 20
    src = tmp_path / "long.mp4"
    with src.open("wb") as f:
        for _ in range(size >> 20):
            f.write(os.urandom(1 << 20))
    dest = tmp_path / "long.mp4.sealed"
    tracemalloc.start()
    try:
        info = seal_file(src, dest, KEY)
        _, sealing_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        with SealedReader(dest, KEY) as reader:
            while block := reader.read(256 * 1024):
                digest.update(block)
        _, reading_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == info.plain_sha256
    assert sealing_peak < 6 << 20, f"sealing 24 MiB peaked at {sealing_peak >> 20} MiB"
    assert reading_peak < 6 << 20, f"reading 24 MiB peaked at {reading_peak >> 20} MiB"


# --- damage ----------------------------------------------------------------------------------

def _flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("chunk", [0, 1, 2, 3])
@pytest.mark.parametrize("where", ["ciphertext", "tag"])
def test_a_flipped_byte_in_any_chunk_is_detected(tmp_path: Path, chunk: int, where: str
                                                 ) -> None:
    path = sealed_copy(tmp_path, os.urandom(CHUNK * 7 // 2))
    last = chunk == 3
    length = CHUNK // 2 if last else CHUNK
    _flip(path, chunk_offset(chunk) + (5 if where == "ciphertext" else length + 7))
    with pytest.raises(MediaIntegrityError) as failed:
        read_all(path)
    assert str(failed.value) == (f"chunk {chunk} of {path} failed authentication: the file"
                                 " was altered or truncated")
    assert failed.value.chunk == chunk and failed.value.path == path
    assert failed.value.code == "media-integrity" and failed.value.status == 500


@pytest.mark.parametrize("offset", [HEADER_BYTES - 1, HEADER_BYTES - 9])
def test_an_altered_nonce_prefix_or_chunk_size_is_detected(tmp_path: Path, offset: int) -> None:
    path = sealed_copy(tmp_path, os.urandom(CHUNK * 2))
    _flip(path, offset)
    with pytest.raises(MediaIntegrityError, match=r"failed authentication|damaged header"):
        read_all(path)


def test_a_file_cut_at_a_chunk_boundary_is_detected(tmp_path: Path) -> None:
    data = os.urandom(CHUNK * 3)
    path = sealed_copy(tmp_path, data)
    with path.open("r+b") as f:
        f.truncate(chunk_offset(2))  # the last chunk is gone: what is left looks whole
    with SealedReader(path, KEY) as reader:
        assert reader.read(CHUNK) == data[:CHUNK], "the chunks before are intact"
        with pytest.raises(MediaIntegrityError,
                           match=r"chunk 1 of .* failed authentication: the file was altered"
                                 r" or truncated"):
            reader.read()


def test_a_file_cut_inside_a_chunk_is_detected(tmp_path: Path) -> None:
    path = sealed_copy(tmp_path, os.urandom(CHUNK * 3))
    with path.open("r+b") as f:
        f.truncate(chunk_offset(2) + TAG_BYTES + 10)
    with pytest.raises(MediaIntegrityError, match=r"chunk 2 of .* failed authentication"):
        read_all(path)


@pytest.mark.parametrize("cut", [5, TAG_BYTES - 1])
def test_a_length_that_does_not_make_whole_chunks_is_refused_on_open(tmp_path: Path, cut: int
                                                                     ) -> None:
    path = sealed_copy(tmp_path, os.urandom(CHUNK * 2))
    with path.open("r+b") as f:
        f.truncate(chunk_offset(1) + cut)
    with pytest.raises(MediaIntegrityError, match="do not make whole chunks"):
        SealedReader(path, KEY)


def test_a_file_cut_to_its_header_or_inside_it_is_refused(tmp_path: Path) -> None:
    path = sealed_copy(tmp_path, b"hello")
    with path.open("r+b") as f:
        f.truncate(HEADER_BYTES)
    with pytest.raises(MediaIntegrityError, match="0 bytes after the header do not make whole"):
        SealedReader(path, KEY)
    with path.open("r+b") as f:
        f.truncate(HEADER_BYTES - 3)
    with pytest.raises(MediaIntegrityError, match="truncated: its header is incomplete"):
        SealedReader(path, KEY)


def test_two_swapped_chunks_are_detected(tmp_path: Path) -> None:
    data = os.urandom(CHUNK * 4)
    path = sealed_copy(tmp_path, data)
    raw = path.read_bytes()
    one = raw[chunk_offset(1):chunk_offset(2)]
    two = raw[chunk_offset(2):chunk_offset(3)]
    path.write_bytes(raw[:chunk_offset(1)] + two + one + raw[chunk_offset(3):])
    with SealedReader(path, KEY) as reader:
        assert reader.read(CHUNK) == data[:CHUNK]
        with pytest.raises(MediaIntegrityError, match="chunk 1 of"):
            reader.read(1)
        reader.seek(2 * CHUNK)
        with pytest.raises(MediaIntegrityError, match="chunk 2 of"):
            reader.read(1)


@pytest.mark.parametrize("appended", ["copy of a chunk", "copy of the last chunk"])
def test_an_appended_chunk_is_detected(tmp_path: Path, appended: str) -> None:
    path = sealed_copy(tmp_path, os.urandom(CHUNK * 3))
    raw = path.read_bytes()
    extra = raw[chunk_offset(0):chunk_offset(1)] if appended == "copy of a chunk" \
        else raw[chunk_offset(2):]
    path.write_bytes(raw + extra)
    with pytest.raises(MediaIntegrityError, match=r"chunk [23] of .* failed authentication"):
        read_all(path)


def test_a_file_sealed_with_another_key_is_refused_naming_both_keys(tmp_path: Path) -> None:
    path = sealed_copy(tmp_path, b"answer", key=OTHER_KEY)
    with pytest.raises(MediaCryptoError) as refused:
        SealedReader(path, KEY)
    assert type(refused.value) is MediaCryptoError
    assert str(refused.value) == (f"{path} was sealed with key {OTHER_KEY.key_id}, this box has"
                                  f" {KEY.key_id}")
    assert refused.value.code == "media-crypto" and refused.value.status == 500


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"KMEDIA"])
def test_a_file_that_is_not_sealed_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "plain.wav"
    path.write_bytes(content)
    assert not is_sealed(path)
    with pytest.raises(MediaCryptoError, match=r"plain.wav is not a sealed recording"):
        SealedReader(path, KEY)


# --- sealing failures ------------------------------------------------------------------------

def test_sealing_a_missing_file_fails_clearly_and_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "gone.wav.sealed"
    with pytest.raises(MediaCryptoError, match=r"cannot seal .*gone.wav into .*: No such file"):
        seal_file(tmp_path / "gone.wav", dest, KEY)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("chunk", [0, (1 << 24) + 1])
def test_an_unreasonable_chunk_size_is_refused(tmp_path: Path, chunk: int) -> None:
    src = tmp_path / "a.wav"
    src.write_bytes(b"x")
    with pytest.raises(MediaCryptoError, match=f"chunk size {chunk} is outside"):
        seal_file(src, tmp_path / "a.wav.sealed", KEY, chunk_size=chunk)


def test_a_stale_part_file_is_replaced_with_an_owner_only_one(tmp_path: Path) -> None:
    part = tmp_path / "a.wav.sealed.part"
    part.write_bytes(b"left by a power cut")
    part.chmod(0o644)
    path = sealed_copy(tmp_path, b"fresh", name="a.wav")
    assert read_all(path) == b"fresh" and not part.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- the key ---------------------------------------------------------------------------------

def test_the_key_is_created_owner_only_and_loaded_again(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secrets" / "media.key"
    key = MediaKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_bytes() == key.key and len(key.key) == 32
    assert key.key_id == hashlib.sha256(key.key).hexdigest()[:16]
    assert MediaKey.load_or_create(path) == key == MediaKey.load(path)
    assert [p.name for p in path.parent.iterdir()] == ["media.key"], "temporary file left"
    assert key.key.hex() not in repr(key)


def test_processes_creating_the_key_together_end_up_with_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "media.key"
    got: list[MediaKey] = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        got.append(MediaKey.load_or_create(path))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and {k.key_id for k in got} == {MediaKey.load(path).key_id}


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_key_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "media.key"
    MediaKey.load_or_create(path)
    path.chmod(mode)
    with pytest.raises(MediaCryptoError,
                       match=f"open to group or others \\(mode 0{mode:o}\\).*chmod 600"):
        MediaKey.load_or_create(path)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_a_key_file_of_the_wrong_size_is_refused(tmp_path: Path, size: int) -> None:
    path = tmp_path / "media.key"
    path.write_bytes(b"k" * size)
    path.chmod(0o600)
    with pytest.raises(MediaCryptoError, match=f"holds {min(size, 33)} bytes, not 32"):
        MediaKey.load_or_create(path)


def test_a_missing_key_is_not_created_by_load(tmp_path: Path) -> None:
    with pytest.raises(MediaCryptoError, match=r"no media key at .*media.key"):
        MediaKey.load(tmp_path / "media.key")
    assert not (tmp_path / "media.key").exists()
    with pytest.raises(MediaCryptoError, match="a media key has 32 bytes, not 16"):
        MediaKey(b"k" * 16)


# --- plaintext copies ------------------------------------------------------------------------

def test_a_decrypted_copy_is_private_and_removed_afterwards(tmp_path: Path) -> None:
    data = os.urandom(CHUNK * 5 + 3)
    sealed = sealed_copy(tmp_path, data)
    work = tmp_path / "media" / ".work"
    with decrypted_copy(sealed, KEY, work, ".wav") as plain:
        assert plain.parent == work and plain.suffix == ".wav"
        assert plain.read_bytes() == data
        assert stat.S_IMODE(plain.stat().st_mode) == 0o600
        assert stat.S_IMODE(work.stat().st_mode) == 0o700
    assert not plain.exists() and list(work.iterdir()) == []


def test_a_decrypted_copy_is_removed_when_the_block_raises(tmp_path: Path) -> None:
    sealed = sealed_copy(tmp_path, b"secret answer")
    work = tmp_path / ".work"
    with pytest.raises(RuntimeError, match="model crashed"), \
            decrypted_copy(sealed, KEY, work, ".wav") as plain:
        assert plain.exists()
        raise RuntimeError("model crashed")
    assert list(work.iterdir()) == []


def test_a_damaged_file_leaves_no_partial_copy(tmp_path: Path) -> None:
    sealed = sealed_copy(tmp_path, os.urandom(CHUNK * 3))
    _flip(sealed, chunk_offset(2) + 1)
    work = tmp_path / ".work"
    with pytest.raises(MediaIntegrityError, match="chunk 2 of"), \
            decrypted_copy(sealed, KEY, work, ".wav"):
        pytest.fail("the block must not run for a damaged recording")
    assert list(work.iterdir()) == []


def test_an_existing_workdir_is_made_owner_only(tmp_path: Path) -> None:
    work = tmp_path / ".work"
    work.mkdir(mode=0o755)
    work.chmod(0o755)
    with decrypted_copy(sealed_copy(tmp_path, b"x"), KEY, work, ".mp4"):
        assert stat.S_IMODE(work.stat().st_mode) == 0o700


def test_clear_workdir_removes_what_a_crash_left(tmp_path: Path) -> None:
    work = tmp_path / ".work"
    assert clear_workdir(work) == 0, "no workdir yet: nothing to do"
    work.mkdir()
    (work / "plain-1.wav").write_bytes(b"left")
    (work / "plain-2.mp4").write_bytes(b"left")
    (work / "stray").mkdir()
    (work / "stray" / "f").write_bytes(b"x")
    assert clear_workdir(work) == 3
    assert list(work.iterdir()) == []


@pytest.mark.parametrize(("name", "suffix"), [("abc.wav.sealed", ".wav"),
                                              ("abc.mp4.sealed", ".mp4"),
                                              ("abc.wav", ".wav"), ("abc.sealed", "")])
def test_plain_suffix(name: str, suffix: str) -> None:
    assert plain_suffix(Path("/m") / name) == suffix
