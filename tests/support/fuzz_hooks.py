"""Schemathesis hooks for the fuzz run (loaded by name through SCHEMATHESIS_HOOKS).

A generated scan target such as "/" or "/usr" may exist: a real scan of it would walk this whole
machine. Every well-formed target (absolute, no NUL, not too long) is pointed at an empty
directory instead; that keeps valid requests valid (so they must be accepted) and leaves
invalid ones exactly as invalid (so they must be rejected).
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

from vpo.server.query import MAX_PATH_LENGTH

SCAN_TARGET_ENV = "VPO_FUZZ_SCAN_TARGET"


def _well_formed(target: object) -> bool:
    return (
        isinstance(target, str)
        and target.startswith("/")
        and "\x00" not in target
        and len(target) <= MAX_PATH_LENGTH
    )


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.operation.label == "GET /api/browse" and isinstance(case.query, dict):
        if _well_formed(case.query.get("path")):
            case.query["path"] = os.environ[SCAN_TARGET_ENV]
        return
    if case.operation.label != "POST /api/jobs" or not isinstance(case.body, dict):
        return
    if _well_formed(case.body.get("path")):
        case.body["path"] = os.environ[SCAN_TARGET_ENV]
