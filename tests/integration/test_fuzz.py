"""Schemathesis fuzzes the live daemon from its own OpenAPI document: valid and invalid requests
to every operation, and no answer may be a 5xx or break the documented status codes, content
types, headers and schemas. Bounded: 20 examples per operation, derandomized, with a timeout.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from tests.support.daemon import DaemonProcess

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def fuzzed_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    proc = DaemonProcess(tmp_path_factory.mktemp("fuzz"))
    proc.start()
    yield proc
    proc.stop()
    proc.kill()


@pytest.fixture(scope="module")
def scan_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where generated scans are pointed (see `test_api_survives_fuzzing`)."""
    return tmp_path_factory.mktemp("empty-library")


def _redirect_real_directories(case: schemathesis.Case, scan_target: Path) -> None:
    """A generated path such as "/" or "/usr" exists: a real scan of it would walk this whole
    machine. Valid directories are redirected to an empty one; everything else goes as is."""
    if case.path == "/api/jobs" and case.method == "POST" and isinstance(case.body, dict):
        target = case.body.get("path")
        if isinstance(target, str) and "\x00" not in target and os.path.isdir(target):
            case.body["path"] = str(scan_target)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_survives_fuzzing(
    fuzzed_daemon: DaemonProcess, scan_target: Path, mode: GenerationMode
) -> None:
    # The operations are driven with Hypothesis directly (schemathesis' pytest plugin does not
    # run under this pytest version); every operation of the document is covered.
    schema = schemathesis.openapi.from_url(f"{fuzzed_daemon.url}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    # Schemathesis leaves out the operation that serves the document itself.
    assert {operation.label for operation in operations} == {
        "GET /health", "GET /api/jobs", "POST /api/jobs", "GET /api/jobs/{job_id}",
        "GET /api/jobs/{job_id}/logs", "GET /api/jobs/{job_id}/errors",
        "POST /api/jobs/{job_id}/cancel", "GET /api/config/polling",
    }  # fmt: skip

    nothing_to_negate: set[str] = set()
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=20,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def exercise(case: schemathesis.Case) -> None:
            _redirect_real_directories(case, scan_target)
            case.call_and_validate(base_url=fuzzed_daemon.url, checks=CHECKS)

        try:
            exercise()
        except Unsatisfiable:
            # Nothing to make invalid (no parameters, or only free-form strings).
            assert mode is GenerationMode.NEGATIVE
            nothing_to_negate.add(operation.label)
    assert nothing_to_negate <= {"GET /health", "GET /api/config/polling"}
