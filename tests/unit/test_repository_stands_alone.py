"""The repository explains itself: every "§N" it cites is a section of docs/design.md, every file
that cites one says where the sections are, and no file points outside the repository.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DESIGN = REPO / "docs" / "design.md"
SECTION_HEADING = re.compile(r"^## (\d+)\. ", re.MULTILINE)
# "§7", and the JSON escape of it in tests/polling_vectors.json
CITATION = re.compile(r"(?:§|\\u00a7)(\d+)")
# Placeholders and paths that only make sense on the machine the project was written on.
# Spelled in parts so this file does not itself name what it forbids.
OUTSIDE = ("../" + "shared", "/work/" + "shared", "<this " + "repository>")


def project_files() -> list[str]:
    """The files git tracks, or, outside a git checkout, every file but build output."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True)
    if listing.returncode == 0:
        return [name.decode() for name in listing.stdout.split(b"\0") if name]
    skip = {".git", "target", ".venv", "node_modules", "__pycache__", ".demo"}
    return [
        path.relative_to(REPO).as_posix()
        for path in REPO.rglob("*")
        if path.is_file() and not skip & set(path.relative_to(REPO).parts)
    ]


def tracked_text_files() -> dict[str, str]:
    files = {}
    for name in project_files():
        try:
            files[name] = (REPO / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary files (pictures) and files deleted in the work tree
    return files


def test_every_cited_section_exists_and_each_citing_file_names_the_design() -> None:
    sections = {int(n) for n in SECTION_HEADING.findall(DESIGN.read_text())}
    assert sections == set(range(1, max(sections) + 1)), "sections are numbered 1, 2, 3, ..."
    cited_somewhere = set()
    for name, text in tracked_text_files().items():
        cited = {int(n) for n in CITATION.findall(text)}
        if not cited or name == "docs/design.md":
            continue
        cited_somewhere |= cited
        assert cited <= sections, f"{name} cites {sorted(cited - sections)}, not in design.md"
        assert "design.md" in text, f"{name} cites §{min(cited)} without naming docs/design.md"
    assert cited_somewhere, "no file cites the design at all: is the pattern still right?"


def test_no_file_points_outside_the_repository() -> None:
    this_file = Path(__file__).relative_to(REPO).as_posix()
    for name, text in tracked_text_files().items():
        if name == this_file:
            continue
        for marker in OUTSIDE:
            assert marker not in text, f"{name} mentions {marker!r}"


def test_license_and_changelog_ship_with_it() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    license_text = (REPO / "LICENSE").read_text()
    assert project["license"] == {"text": "MIT"}
    assert license_text.startswith("MIT License")
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert f"## {project['version']}" in changelog, "the current version has a changelog entry"
