"""vpo/server/display.py against the display vectors static/js/format.js is also checked against
(tests/js/format.test.mjs): the first render and every later poll must write the same text."""

import json
from pathlib import Path

import pytest

from vpo.jobtext import percent_value
from vpo.server import display

VECTORS = json.loads((Path(__file__).parents[1] / "js" / "display_vectors.json").read_text())[
    "vectors"
]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_display_vector(vector: dict) -> None:
    assert display.list_cells(vector["job"]) == vector["list"]
    assert display.detail_fields(vector["job"]) == vector["detail"]


def test_percent_is_floored_and_clamped() -> None:
    values = [0, 0.4, 99.99, 100, 150, -3, None]
    assert [percent_value(v) for v in values] == [0, 0, 99, 100, 100, 0, None]


CALLS = json.loads((Path(__file__).parents[1] / "js" / "display_vectors.json").read_text())["calls"]


@pytest.mark.parametrize("call", CALLS, ids=[f"{c['fn']}{c['args']}" for c in CALLS])
def test_display_call(call: dict) -> None:
    assert getattr(display, call["fn"])(*call["args"]) == call["expected"]
