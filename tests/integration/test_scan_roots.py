"""Scan roots over real HTTP (`[scan] roots` in the daemon's config file): a scan must lie under
a root once symlinks and `..` are resolved (403 PATH_NOT_ALLOWED otherwise), `GET /api/roots`
lists them, `GET /api/browse` lists sub-directories under a root and nothing anywhere else.

The tree is real: real symlinks out of the root and within it, a name that is not UTF-8 (made
with bytes), a file where a directory is expected, a root that is itself a symlink.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.test_api import assert_error
from tests.support.daemon import DaemonProcess, wait_until

NOT_UTF8 = os.fsdecode(b"Am\xe9lie")


@dataclass
class Tree:
    root: Path  # the configured root
    outside: Path  # a directory beside it


def make_tree(base: Path) -> Tree:
    root, outside = base / "media", base / "private"
    for folder in ("tv", "Movies", "anime", ".hidden", "tv/s01"):
        (root / folder).mkdir(parents=True)
    os.mkdir(os.fsencode(root) + b"/Am\xe9lie")
    (outside / "secrets").mkdir(parents=True)
    (root / "notes.txt").write_text("not a folder")
    (root / "escape").symlink_to(outside)  # leads out of the root
    (root / "shortcut").symlink_to(root / "tv")  # stays within it
    (root / "dangling").symlink_to(base / "gone")
    return Tree(root=root, outside=outside)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return make_tree(tmp_path)


@pytest.fixture
def rooted(daemon_factory: Callable[..., DaemonProcess], tree: Tree) -> DaemonProcess:
    return daemon_factory(config={"scan": {"roots": [str(tree.root)]}}).start()


@pytest.fixture
def http(rooted: DaemonProcess) -> Iterator[httpx.Client]:
    with rooted.client() as client:
        yield client


def scan(http: httpx.Client, path: str, **extra: object) -> httpx.Response:
    return http.post("/api/jobs", json={"job_type": "scan", "path": path, **extra})


def browse(http: httpx.Client, path: str, **params: object) -> httpx.Response:
    return http.get("/api/browse", params={"path": path, **params})


# -- GET /api/roots --------------------------------------------------------------------------


def test_roots_are_listed(http: httpx.Client, tree: Tree) -> None:
    body = http.get("/api/roots").json()
    assert body == {
        "restricted": True,
        "roots": [{"path": str(tree.root), "path_is_utf8": True, "available": True}],
    }


def test_without_roots_anything_may_be_scanned_and_nothing_browsed(
    daemon: DaemonProcess, tree: Tree
) -> None:
    with daemon.client() as http:
        assert http.get("/api/roots").json() == {"restricted": False, "roots": []}
        assert scan(http, str(tree.outside)).status_code == 201
        body = assert_error(browse(http, str(tree.root)), 403, "NO_SCAN_ROOTS", "path")
        assert "no scan roots" in body["error"] and "[scan] roots" in body["error"]


# -- scans -----------------------------------------------------------------------------------


def test_scans_under_a_root_are_accepted(http: httpx.Client, tree: Tree) -> None:
    for path in (tree.root, tree.root / "tv", tree.root / "shortcut", tree.root / "tv/../anime"):
        assert scan(http, str(path)).status_code == 201, path
    escaped = str(tree.root) + "/Am\\xe9lie"
    created = scan(http, escaped, path_is_utf8=False)
    assert created.status_code == 201, created.text
    assert created.json()["file_path"] == escaped


@pytest.mark.parametrize(
    "where",
    [
        "outside",  # an absolute path beside the root
        "dotdot",  # `..` out of the root
        "symlink",  # a symlink in the root that leads out
        "prefix",  # a sibling whose name starts with the root's name
        "system",  # the whole machine
    ],
)
def test_scans_outside_the_roots_are_403(http: httpx.Client, tree: Tree, where: str) -> None:
    (tree.root.parent / "media-other").mkdir(exist_ok=True)
    path = {
        "outside": str(tree.outside),
        "dotdot": f"{tree.root}/tv/../../private",
        "symlink": f"{tree.root}/escape/secrets",
        "prefix": f"{tree.root}-other",
        "system": "/proc/self/root",
    }[where]
    body = assert_error(scan(http, path), 403, "PATH_NOT_ALLOWED", "path")
    assert body["details"]["roots"] == [str(tree.root)]
    assert http.get("/api/jobs").json()["total"] == 0


def test_a_missing_path_outside_the_roots_does_not_reveal_whether_it_exists(
    http: httpx.Client, tree: Tree
) -> None:
    for path in (tree.outside / "secrets", tree.outside / "no-such-dir"):
        assert_error(scan(http, str(path)), 403, "PATH_NOT_ALLOWED")
        assert_error(browse(http, str(path)), 403, "PATH_NOT_ALLOWED")


def test_retry_obeys_the_roots_as_they_are_now(
    daemon_factory: Callable[..., DaemonProcess], tree: Tree
) -> None:
    open_daemon = daemon_factory().start()
    with open_daemon.client() as http:
        job = scan(http, str(tree.outside)).json()
    open_daemon.stop()
    # The same data dir, now with roots: the old job's target is outside them.
    rooted = daemon_factory(
        data_dir=open_daemon.data_dir, config={"scan": {"roots": [str(tree.root)]}}
    ).start()
    with rooted.client() as http:
        http.post(f"/api/jobs/{job['id']}/cancel")
        # The job may have finished, or the restarted worker may have claimed it: a cancel of
        # a running job ends it a moment later, and a retry before that is 409, not the 403
        # under test.
        wait_until(
            lambda: (
                http.get(f"/api/jobs/{job['id']}").json()["status"]
                in ("completed", "failed", "cancelled")
            ),
            timeout=30,
            message="the job never ended",
        )
        assert_error(http.post(f"/api/jobs/{job['id']}/retry"), 403, "PATH_NOT_ALLOWED", "path")


# -- GET /api/browse -------------------------------------------------------------------------


def names(response: httpx.Response) -> list[tuple[str, bool]]:
    assert response.status_code == 200, response.text
    return [(item["name"], item["name_is_utf8"]) for item in response.json()["directories"]]


def test_browse_lists_visible_subdirectories_sorted(http: httpx.Client, tree: Tree) -> None:
    response = browse(http, str(tree.root))
    # Hidden, the file, the symlink out and the dangling one are left out; the symlink that
    # stays within the root is kept; order is case-folded; the name that is not UTF-8 escaped.
    assert names(response) == [
        ("Am\\xe9lie", False),
        ("anime", True),
        ("Movies", True),
        ("shortcut", True),
        ("tv", True),
    ]
    body = response.json()
    assert (body["path"], body["path_is_utf8"], body["total"]) == (str(tree.root), True, 5)
    assert (body["limit"], body["offset"]) == (100, 0)
    assert response.headers["Cache-Control"] == "no-cache"


def test_browse_pages(http: httpx.Client, tree: Tree) -> None:
    page = browse(http, str(tree.root), limit=2, offset=1)
    assert names(page) == [("anime", True), ("Movies", True)]
    assert page.json()["total"] == 5
    assert names(browse(http, str(tree.root), offset=9)) == []
    assert_error(browse(http, str(tree.root), limit=0), 400, "INVALID_PARAMETER", "limit")


def test_browse_into_subdirectories(http: httpx.Client, tree: Tree) -> None:
    assert names(browse(http, f"{tree.root}/tv")) == [("s01", True)]
    assert names(browse(http, f"{tree.root}/shortcut")) == [("s01", True)]
    assert names(browse(http, f"{tree.root}/tv/s01/..")) == [("s01", True)]
    inside = browse(http, f"{tree.root}/Am\\xe9lie", path_is_utf8="false")
    assert names(inside) == []
    assert inside.json()["path"] == f"{tree.root}/Am\\xe9lie"
    assert inside.json()["path_is_utf8"] is False


@pytest.mark.parametrize(
    ("path", "code", "parameter"),
    [
        ("{outside}", "PATH_NOT_ALLOWED", "path"),
        ("{root}/..", "PATH_NOT_ALLOWED", "path"),
        ("{root}/escape", "PATH_NOT_ALLOWED", "path"),
        ("{root}/escape/secrets", "PATH_NOT_ALLOWED", "path"),
        ("{root}/dangling", "PATH_NOT_ALLOWED", "path"),  # leads out, to nothing
        ("/", "PATH_NOT_ALLOWED", "path"),
        ("/etc", "PATH_NOT_ALLOWED", "path"),
        ("/proc/self/root", "PATH_NOT_ALLOWED", "path"),
    ],
)
def test_browse_outside_the_roots_is_403(
    http: httpx.Client, tree: Tree, path: str, code: str, parameter: str
) -> None:
    target = path.format(root=tree.root, outside=tree.outside)
    body = assert_error(browse(http, target), 403, code, parameter)
    assert "secrets" not in body["error"] or "secrets" in target


@pytest.mark.parametrize(
    ("path", "params", "problem"),
    [
        ("media", {}, "absolute"),  # relative
        ("{root}/notes.txt", {}, "not a directory"),
        ("{root}/missing", {}, "does not exist"),
        ("{root}/bad\\q", {"path_is_utf8": "false"}, "not a valid path"),
        ("{root}", {"path_is_utf8": "maybe"}, "path_is_utf8"),
    ],
)
def test_browse_rejects_what_is_not_a_directory_under_a_root(
    http: httpx.Client, tree: Tree, path: str, params: dict, problem: str
) -> None:
    target = path.format(root=tree.root)
    response = browse(http, target, **params)
    parameter = "path_is_utf8" if "path_is_utf8" in problem else "path"
    body = assert_error(response, 400, "INVALID_PARAMETER", parameter)
    assert problem in body["error"]


def test_browse_needs_a_path(http: httpx.Client) -> None:
    assert_error(http.get("/api/browse"), 400, "INVALID_PARAMETER", "path")
    assert_error(http.get("/api/browse", params={"path": ""}), 400, "INVALID_PARAMETER", "path")
    assert_error(
        http.get("/api/browse", params={"path": "/x", "depth": "2"}),
        400,
        "INVALID_PARAMETER",
        "depth",
    )


def test_a_root_that_is_a_symlink(
    daemon_factory: Callable[..., DaemonProcess], tree: Tree, tmp_path: Path
) -> None:
    link = tmp_path / "library"
    link.symlink_to(tree.root)
    daemon = daemon_factory(config={"scan": {"roots": [str(link)]}}).start()
    with daemon.client() as http:
        assert http.get("/api/roots").json()["roots"][0]["available"] is True
        listed = browse(http, str(link))
        assert ("tv", True) in names(listed) and listed.json()["path"] == str(link)
        assert names(browse(http, f"{link}/tv")) == [("s01", True)]
        assert scan(http, f"{link}/tv").status_code == 201
        # The same directory by its real name is the same place, so it is allowed too.
        assert scan(http, str(tree.root / "anime")).status_code == 201
        assert_error(scan(http, str(tree.outside)), 403, "PATH_NOT_ALLOWED")
        assert_error(browse(http, f"{link}/escape"), 403, "PATH_NOT_ALLOWED")
        # Browsing lists the symlink that leads out of the real root no more than before.
        assert ("escape", True) not in names(listed)


def test_a_root_that_does_not_exist_yet(
    daemon_factory: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    future = tmp_path / "not-mounted-yet"
    daemon = daemon_factory(config={"scan": {"roots": [str(future)]}}).start()
    with daemon.client() as http:
        assert http.get("/api/roots").json()["roots"][0]["available"] is False
        assert_error(browse(http, str(future)), 400, "INVALID_PARAMETER", "path")
        future.mkdir()  # mounted while the daemon runs: checked again at every request
        assert names(browse(http, str(future))) == []
        assert scan(http, str(future)).status_code == 201
