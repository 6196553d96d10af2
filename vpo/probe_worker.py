"""The probe worker process: `python -m vpo.probe_worker`, one of the scan's probe pool.

It speaks a line protocol over its stdin and stdout (the parent side is `vpo/probe_pool.py`):

- first it writes one line, `{"ready": "<av version>"}`, or `{"unavailable": "<why>"}` when
  `av` cannot be imported (the parent then falls back to ffprobe) and exits;
- then, for each request line (the file's path as bytes, in hex: any byte a Linux name may hold,
  newlines included, survives), it writes one answer line: `{"ok": <ffprobe-shaped JSON>}`,
  `{"rejected": "<FFmpeg's reason>"}` (FFmpeg refused the content) or `{"failed": "<why>"}`
  (anything else went wrong in Python);
- it exits on end of input: when the parent closes the pipe, and when the parent dies.

FFmpeg runs here, not in the daemon, so that a file which crashes or hangs it takes down only
this process: the parent sees end of output (a crash) or no answer before its deadline (a hang),
records that one file as an error and starts a new worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from typing import IO, Any

# Test-only fault injection (tests/unit/test_probe_pool.py): base names of files on which the
# worker stops, with the file open, as if FFmpeg had hung on it. No real FFmpeg hang can be
# reproduced on demand, so the hang is injected here; the parent's timeout and kill are real.
HANG_FOR_TESTS_ENV = "VPO_PROBE_WORKER_HANG_ON"

# Linux prctl option: the signal this process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def encode_request(path: str) -> bytes:
    """One request line for `path` (the parent side)."""
    return os.fsencode(path).hex().encode("ascii") + b"\n"


def decode_request(line: bytes) -> str:
    return os.fsdecode(bytes.fromhex(line.strip().decode("ascii")))


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies.

    End of input already ends an idle worker; this also ends one that is stuck inside FFmpeg and
    never reads again, so a `kill -9` of the daemon leaves no orphan behind. (The signal follows
    the parent *thread* that started us; the pool lives inside one scan, on one thread, and is
    closed before that thread moves on.) The parent may have died before the prctl took effect:
    then our parent is already someone else, and we leave at once.
    """
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(0)


def _protocol_output() -> IO[bytes]:
    """The answer stream, on a private copy of stdout; fd 1 then points at stderr.

    FFmpeg and any library may print to fd 1; nothing but answers may reach the parent's pipe.
    """
    answers = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    return answers


def _answer(out: IO[bytes], message: dict[str, Any]) -> None:
    out.write(json.dumps(message).encode("utf-8") + b"\n")


def _hang_if_asked(path: str, hang_on: set[str]) -> None:
    if os.path.basename(path) in hang_on:
        with open(path, "rb"):  # held open so a test can tell which worker is on which file
            while True:
                time.sleep(3600)


def serve(requests: IO[bytes], out: IO[bytes]) -> None:
    """Answer requests until end of input."""
    try:
        import av
        import av.error

        from vpo.probe_av import error_reason, probe_path
    except Exception as exc:  # ImportError, or a broken shared library under it
        _answer(out, {"unavailable": f"cannot import av: {exc}"})
        return
    _answer(out, {"ready": getattr(av, "__version__", "?")})
    hang_on = {name for name in os.environ.get(HANG_FOR_TESTS_ENV, "").split("/") if name}
    for line in requests:
        if not line.strip():
            continue
        path = decode_request(line)
        try:
            _hang_if_asked(path, hang_on)
            _answer(out, {"ok": probe_path(path)})
        except av.error.FFmpegError as exc:
            _answer(out, {"rejected": error_reason(exc)})
        except Exception as exc:  # a bug or an odd value in PyAV: this file, not the worker
            _answer(out, {"failed": f"{type(exc).__name__}: {exc}"})


def main() -> None:
    # Ctrl+C in a terminal reaches the whole process group; stopping workers is the parent's job.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if len(sys.argv) > 1:
        _die_with_parent(int(sys.argv[1]))
    out = _protocol_output()
    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
