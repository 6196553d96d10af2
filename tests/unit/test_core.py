"""The Python surface of the Rust core `vpo._core`: results, errors, callbacks, the GIL.

The walker's and hasher's edge cases are covered by `cargo test`; these tests check what a
Python caller sees, on real files in temporary directories.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from vpo import _core

VIDEO = ["mkv", "mp4", "avi", "ts"]
KIB = 1024

# --- an independent xxHash64 (seed 0) to check the Rust hashes against ---------------------

_MASK = (1 << 64) - 1
_P1, _P2, _P3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
_P4, _P5 = 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5


def _rotl(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (64 - bits))) & _MASK


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _MASK, 31) * _P1) & _MASK


def _merge(acc: int, value: int) -> int:
    return ((acc ^ _round(0, value)) * _P1 + _P4) & _MASK


def xxh64(data: bytes) -> int:
    """xxHash64 with seed 0, written from the published algorithm (slow, for tests only)."""
    length, offset = len(data), 0
    if length >= 32:
        acc = [(_P1 + _P2) & _MASK, _P2, 0, (-_P1) & _MASK]
        while offset + 32 <= length:
            for lane in range(4):
                start = offset + 8 * lane
                acc[lane] = _round(acc[lane], int.from_bytes(data[start : start + 8], "little"))
            offset += 32
        h = (_rotl(acc[0], 1) + _rotl(acc[1], 7) + _rotl(acc[2], 12) + _rotl(acc[3], 18)) & _MASK
        for value in acc:
            h = _merge(h, value)
    else:
        h = _P5
    h = (h + length) & _MASK
    while offset + 8 <= length:
        h ^= _round(0, int.from_bytes(data[offset : offset + 8], "little"))
        h = (_rotl(h, 27) * _P1 + _P4) & _MASK
        offset += 8
    if offset + 4 <= length:
        h ^= (int.from_bytes(data[offset : offset + 4], "little") * _P1) & _MASK
        h = (_rotl(h, 23) * _P2 + _P3) & _MASK
        offset += 4
    while offset < length:
        h ^= (data[offset] * _P5) & _MASK
        h = (_rotl(h, 11) * _P1) & _MASK
        offset += 1
    h ^= h >> 33
    h = (h * _P2) & _MASK
    h ^= h >> 29
    h = (h * _P3) & _MASK
    return h ^ (h >> 32)


def expected_partial_hash(data: bytes) -> str:
    """The documented layout: whole file up to 128 KiB, else first and last 64 KiB; then size."""
    body = data if len(data) <= 128 * KIB else data[: 64 * KIB] + data[-64 * KIB :]
    return f"{xxh64(body + len(data).to_bytes(8, 'little')):016x}"


def test_reference_xxh64_matches_published_vectors() -> None:
    assert xxh64(b"") == 0xEF46DB3751D8E999
    assert xxh64(b"a") == 0xD24EC4F1A98C6E5B
    assert xxh64(b"abc") == 0x44BC2CF5AD770999


# --- helpers --------------------------------------------------------------------------------


def write(path: Path, data: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_tree(root: Path, dirs: int, files_per_dir: int) -> int:
    """A wide tree of empty video files (plus a non-video per directory); returns the count."""
    for d in range(dirs):
        folder = root / f"show{d:03d}"
        folder.mkdir(parents=True)
        for name in [f"episode{f:03d}.mkv" for f in range(files_per_dir)] + ["info.nfo"]:
            os.close(os.open(folder / name, os.O_CREAT | os.O_WRONLY, 0o644))
    return dirs * files_per_dir


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """Large enough that a walk spans many batch boundaries (20,000 files)."""
    root = tmp_path_factory.mktemp("big")
    return root, make_tree(root, dirs=200, files_per_dir=100)


# Linux capability numbers (linux/capability.h) and the prctl that removes one from the bounding
# set, so a process exec'd afterwards as root no longer has it.
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _PR_CAPBSET_DROP = 1, 2, 24


def run_without_permission_bypass(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run `args`, as root without the capabilities that let root ignore permission bits.

    Root reads any directory; dropping CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH makes the kernel
    check the mode bits for it too, so a chmod 000 directory really is unreadable: a real
    permission error, not a simulated one. (Changing to another user would not do: the venv's
    interpreter may live where only root can reach it.)
    """
    preexec = None
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)

        def preexec() -> None:
            for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
                if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")

    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=60,
        preexec_fn=preexec,
    )


class Spinner:
    """A Python thread that counts loop iterations, yielding the GIL on every one.

    With the switch interval raised far above the test's length, this thread can only run while
    another thread has released the GIL, so its count is evidence of a release, not of timing.
    """

    def __init__(self) -> None:
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)

    def _spin(self) -> None:
        while not self._stop.is_set():
            self.count += 1
            time.sleep(0)  # releases the GIL, so the other thread gets it back at once

    def __enter__(self) -> Spinner:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def spinner_progress_during(call: Callable[[], object], attempts: int = 5) -> int:
    """How many iterations a spinning Python thread made while `call` ran.

    A call that holds the GIL always gives 0, however often it is tried; a call that releases
    it gives more than 0 unless the OS happened not to schedule the spinner at all, so a few
    attempts are made to keep a loaded machine from failing the test.
    """
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        with Spinner() as spinner:
            progress = 0
            for _ in range(attempts):
                # Let the spinner run; it yields on every iteration, so this wait returns.
                started = spinner.count
                while spinner.count == started:
                    time.sleep(0)
                before = spinner.count
                call()
                progress = spinner.count - before
                if progress > 0:
                    break
            return progress
    finally:
        sys.setswitchinterval(old_interval)


# --- discover -------------------------------------------------------------------------------


def test_discover_returns_sorted_absolute_paths_with_stat_values(tmp_path: Path) -> None:
    write(tmp_path / "b" / "Show.S01E01.MKV", b"x" * 10)
    write(tmp_path / "a" / "film.Mp4", b"y" * 20)
    write(tmp_path / "a" / "z.ts")
    write(tmp_path / "a" / "readme.txt", b"no")
    write(tmp_path / "a" / ".hidden" / "secret.mkv")
    write(tmp_path / ".git" / "objects" / "x.mkv")
    write(tmp_path / "a" / "._film.Mp4")  # a macOS resource fork, not a video

    files, errors = _core.discover([str(tmp_path)], VIDEO)

    assert errors == []
    paths = [path for path, _, _ in files]
    assert paths == sorted(paths)
    assert paths == [
        str(tmp_path / "a" / "film.Mp4"),
        str(tmp_path / "a" / "z.ts"),
        str(tmp_path / "b" / "Show.S01E01.MKV"),
    ]
    for path, size, mtime in files:
        stat = os.stat(path)
        assert (size, mtime) == (stat.st_size, stat.st_mtime)
        assert isinstance(mtime, float)


def test_discover_accepts_relative_and_pathlike_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "lib" / "a.mkv")
    monkeypatch.chdir(tmp_path)
    files, _ = _core.discover(["lib"], ["mkv"])
    assert [path for path, _, _ in files] == [str(tmp_path / "lib" / "a.mkv")]
    files, _ = _core.discover([tmp_path / "lib"], ["MKV"])
    assert len(files) == 1


def test_non_utf8_file_names_round_trip_through_discover_and_hash(tmp_path: Path) -> None:
    raw_name = os.fsencode(tmp_path) + b"/caf\xe9.mkv"
    with open(raw_name, "wb") as handle:
        handle.write(b"bytes")

    files, errors = _core.discover([str(tmp_path)], ["mkv"])

    assert errors == []
    assert [os.fsencode(path) for path, _, _ in files] == [raw_name]
    [(returned, digest, error)] = _core.hash_files([files[0][0]])
    assert os.fsencode(returned) == raw_name
    assert error is None
    assert digest == expected_partial_hash(b"bytes")


def test_missing_root_raises_file_not_found_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(FileNotFoundError) as caught:
        _core.discover([str(tmp_path), str(missing)], VIDEO)
    assert str(missing) in str(caught.value)
    assert caught.value.filename == str(missing)


def test_file_root_raises_not_a_directory_naming_the_path(tmp_path: Path) -> None:
    movie = write(tmp_path / "movie.mkv")
    with pytest.raises(NotADirectoryError) as caught:
        _core.discover([str(movie)], VIDEO)
    assert str(movie) in str(caught.value)


def test_bad_arguments_are_type_and_value_errors(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        _core.discover(str(tmp_path), VIDEO)  # a bare string is not a list of roots
    with pytest.raises(ValueError, match="extension"):
        _core.discover([str(tmp_path)], [])


def test_unreadable_directory_is_reported_and_the_rest_is_found(tmp_path: Path) -> None:
    root = tmp_path
    write(root / "open" / "a.mkv")
    write(root / "locked" / "b.mkv")
    (root / "locked").chmod(0o000)
    script = (
        "import json, sys; from vpo import _core; "
        "print(json.dumps(_core.discover([sys.argv[1]], ['mkv'])))"
    )
    try:
        result = run_without_permission_bypass([sys.executable, "-c", script, str(root)], root)
    finally:
        (root / "locked").chmod(0o755)
    assert result.returncode == 0, result.stderr
    files, errors = json.loads(result.stdout)

    assert [path for path, _, _ in files] == [str(root / "open" / "a.mkv")]
    assert len(errors) == 1
    path, message = errors[0]
    assert path == str(root / "locked")
    assert "Permission denied" in message


def test_symlink_loop_terminates_and_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "tv" / "show" / "e1.mkv")
    (tmp_path / "tv" / "show" / "again").symlink_to(tmp_path / "tv")

    files, errors = _core.discover([str(tmp_path / "tv")], VIDEO, follow_symlinks=True)

    assert [path for path, _, _ in files] == [str(tmp_path / "tv" / "show" / "e1.mkv")]
    assert len(errors) == 1
    assert errors[0][0] == str(tmp_path / "tv" / "show" / "again")
    assert "loop" in errors[0][1]


def test_progress_reports_growing_counts_ending_at_the_total(big_tree: tuple[Path, int]) -> None:
    root, total = big_tree
    seen: list[int] = []

    files, _ = _core.discover([str(root)], ["mkv"], progress=seen.append)

    assert len(files) == total
    assert seen, "progress was never called"
    assert seen == sorted(seen)
    assert seen[-1] == total
    assert len(set(seen)) == len(seen), "the same count was reported twice"


def test_should_cancel_true_raises_cancelled(big_tree: tuple[Path, int]) -> None:
    root, _ = big_tree
    seen: list[int] = []
    asked: list[bool] = []

    def cancel() -> bool:
        asked.append(True)
        return True

    with pytest.raises(_core.Cancelled):
        _core.discover([str(root)], ["mkv"], progress=seen.append, should_cancel=cancel)
    assert issubclass(_core.Cancelled, Exception)
    # Asked at least once (at the latest when the work ended). That the walk then really stops
    # reading directories is shown by `cargo test`: from Python a fast walk may finish first.
    assert asked


def test_should_cancel_false_lets_the_walk_finish(big_tree: tuple[Path, int]) -> None:
    root, total = big_tree
    asked: list[bool] = []

    def never() -> bool:
        asked.append(True)
        return False

    files, _ = _core.discover([str(root)], ["mkv"], should_cancel=never)

    assert len(files) == total
    assert asked


def test_exceptions_from_callbacks_propagate(big_tree: tuple[Path, int]) -> None:
    root, _ = big_tree

    class Boom(Exception):
        pass

    def explode(*_: object) -> bool:
        raise Boom("from the callback")

    with pytest.raises(Boom, match="from the callback"):
        _core.discover([str(root)], ["mkv"], progress=explode)
    with pytest.raises(Boom):
        _core.discover([str(root)], ["mkv"], should_cancel=explode)


def test_discover_releases_the_gil(big_tree: tuple[Path, int]) -> None:
    root, total = big_tree

    def walk() -> None:
        files, _ = _core.discover([str(root)], ["mkv"])
        assert len(files) == total

    # Control: a C call that holds the GIL lets the spinner make no progress at all, which shows
    # the measurement can fail.
    assert spinner_progress_during(lambda: sum(range(3_000_000))) == 0
    assert spinner_progress_during(walk) > 0


# --- hash_files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [0, 1, 64 * KIB - 1, 64 * KIB, 64 * KIB + 1, 128 * KIB, 128 * KIB + 1, 1024 * KIB + 3],
)
def test_hash_matches_the_documented_layout(tmp_path: Path, size: int) -> None:
    data = bytes((i * 7 + i // 256) % 256 for i in range(size))
    path = write(tmp_path / "f.mkv", data)

    [(returned_path, digest, error)] = _core.hash_files([str(path)])

    assert returned_path == str(path)
    assert error is None
    assert digest == expected_partial_hash(data)
    assert len(digest) == 16 and digest == digest.lower()


def test_hash_errors_are_returned_in_input_order_not_raised(tmp_path: Path) -> None:
    good = write(tmp_path / "good.mkv", b"video")
    missing = tmp_path / "missing.mkv"

    results = _core.hash_files([str(missing), str(good), str(tmp_path)])

    assert [path for path, _, _ in results] == [str(missing), str(good), str(tmp_path)]
    assert results[0][1] is None and "No such file" in results[0][2]
    assert results[1] == (str(good), expected_partial_hash(b"video"), None)
    assert results[2][1] is None and "not a regular file" in results[2][2]


def test_hash_progress_reports_done_of_total(tmp_path: Path) -> None:
    paths = [str(write(tmp_path / f"f{i}.mkv", bytes([i]) * i)) for i in range(200)]
    seen: list[tuple[int, int]] = []

    results = _core.hash_files(paths, progress=lambda done, total: seen.append((done, total)))

    assert [error for _, _, error in results] == [None] * 200
    assert seen[-1] == (200, 200)
    assert all(total == 200 for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_hash_should_cancel_raises_cancelled(tmp_path: Path) -> None:
    paths = [str(write(tmp_path / f"f{i}.mkv", b"x")) for i in range(100)]
    seen: list[int] = []

    with pytest.raises(_core.Cancelled):
        _core.hash_files(
            paths,
            progress=lambda done, _total: seen.append(done),
            should_cancel=lambda: True,
        )
    assert seen, "progress is reported before the cancel check"


def test_hash_files_releases_the_gil(big_tree: tuple[Path, int]) -> None:
    root, _ = big_tree
    paths = [str(path) for path in sorted(root.glob("*/*.mkv"))]

    def hash_all() -> None:
        results = _core.hash_files(paths)
        assert all(error is None for _, _, error in results)

    assert spinner_progress_during(hash_all) > 0
