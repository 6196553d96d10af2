"""Process identity (vpo/owner.py) against real processes: this one, a finished child, a live
child, and owner ids naming another host."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from vpo.owner import Owner, _process_start_epoch, owner_is_alive, parse_owner, process_owner


def test_owner_liveness_check() -> None:
    me = process_owner()
    host, pid, start = me.rsplit(":", 2)
    assert int(pid) == os.getpid()
    assert owner_is_alive(me) is True
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(finished.stdout)
    assert owner_is_alive(f"{host}:{dead_pid}:{start}") is False
    # Our pid with another start time: a reused pid, so the recorded owner is gone.
    assert owner_is_alive(f"{host}:{pid}:{int(start) - 1000}") is False
    assert owner_is_alive("garbage") is False
    assert owner_is_alive(None) is False


def test_a_live_process_of_this_host_is_alive_and_the_same_pid_elsewhere_is_not() -> None:
    """The one policy: alive means this host. Another host name is a renamed machine or a
    re-created container, whose jobs nobody will finish (the daemon requeues them)."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        child_start = _process_start_epoch(child.pid)
        assert child_start is not None
        assert owner_is_alive(f"{socket.gethostname()}:{child.pid}:{child_start}") is True
        assert owner_is_alive(f"old-name-of-this-box:{child.pid}:{child_start}") is False
        me = parse_owner(process_owner())
        assert owner_is_alive(str(Owner("old-name-of-this-box", me.pid, me.start))) is False
    finally:
        child.communicate(b"")


def test_owner_ids_parse_from_the_right_so_host_names_may_hold_colons() -> None:
    assert parse_owner("nas:1234:1700000000") == Owner("nas", 1234, 1700000000)
    assert parse_owner("fe80::1:42:7") == Owner("fe80::1", 42, 7)
    assert str(Owner("fe80::1", 42, 7)) == "fe80::1:42:7"
    for malformed in ("", None, "garbage", "host:pid:start", "a:1"):
        assert parse_owner(malformed) is None
