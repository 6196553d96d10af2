"""`GET /api/openapi.json` is true: it lists exactly the routes the daemon serves, and real
responses of every operation (successes and errors) validate against its schemas."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.support.daemon import DaemonProcess, wait_until
from tests.support.media import MediaCache, build_library
from vpo.server.api import routes

DOC_URI = "urn:vpo:openapi"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


class Contract:
    """The OpenAPI document, able to validate a live response of one operation."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOC_URI, resource)
        self.checked: set[tuple[str, str, str]] = set()

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def check(self, template: str, method: str, response: httpx.Response) -> None:
        operation = self.document["paths"][template][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], (
            f"{method} {template} answered {status}, which the document does not list"
        )
        described = self._resolve(operation["responses"][status])
        if "content" not in described:
            assert response.content == b"", f"{method} {template} {status} should have no body"
        else:
            assert response.headers["content-type"].startswith("application/json")
            schema = described["content"]["application/json"]["schema"]
            if "$ref" in schema:
                schema = {"$ref": DOC_URI + schema["$ref"]}
            validator = Draft202012Validator(
                schema, registry=self.registry, format_checker=FormatChecker()
            )
            errors = sorted(validator.iter_errors(response.json()), key=str)
            assert not errors, f"{method} {template} {status}: {errors[0].message}"
        for header in described.get("headers", {}):
            assert header in response.headers, f"{method} {template} {status} lacks {header}"
        self.checked.add((template, method.lower(), status))


def test_document_lists_exactly_the_served_routes(daemon: DaemonProcess) -> None:
    with daemon.client() as http:
        document = http.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    served = {(route.path, route.method) for route in routes}  # type: ignore[attr-defined]
    assert documented == served
    operations = [op for item in document["paths"].values() for op in item.values()]
    operation_ids = [op["operationId"] for op in operations]
    assert len(operation_ids) == len(set(operation_ids))
    # Every component is a valid JSON Schema (2020-12, as OpenAPI 3.1 uses).
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_real_responses_match_the_document(
    daemon_factory: Callable[..., DaemonProcess], tmp_path: Path, media_cache: MediaCache
) -> None:
    token = "openapi-test-token-0123456789"
    daemon = daemon_factory(token=token, config={"scan": {"roots": [str(tmp_path)]}}).start()
    library = build_library(tmp_path / "lib", media_cache)
    (library.root / "tv" / "bad.mkv").write_bytes(b"not a video")

    with daemon.client() as http:
        contract = Contract(http.get("/api/openapi.json").json())
        check = contract.check

        check("/health", "GET", http.get("/health"))
        check("/health", "GET", http.get("/health", params={"x": "1"}))
        check("/api/openapi.json", "GET", http.get("/api/openapi.json"))

        created = http.post("/api/jobs", json={"job_type": "scan", "path": str(library.root)})
        check("/api/jobs", "POST", created)
        job_id = created.json()["id"]
        check("/api/jobs", "POST", http.post("/api/jobs", json={"job_type": "x", "path": "/"}))
        check("/api/jobs", "POST", http.post("/api/jobs", content=b"a=1"))
        check(
            "/api/jobs",
            "POST",
            http.post(
                "/api/jobs",
                content=b"[" * 70_000,
                headers={"Content-Type": "application/json"},
            ),
        )
        check(
            "/api/jobs",
            "POST",
            http.post(
                "/api/jobs",
                json={"job_type": "scan", "path": str(library.root)},
                headers={"Origin": "http://elsewhere.example"},
            ),
        )

        def done() -> bool:
            return http.get(f"/api/jobs/{job_id}").json()["status"] == "completed"

        wait_until(done, timeout=60)

        def unchanged(response: httpx.Response) -> dict[str, str]:
            return {"If-None-Match": response.headers["ETag"]}

        jobs = "/api/jobs"
        listed = http.get(jobs)
        check(jobs, "GET", listed)
        check(jobs, "GET", http.get(jobs, headers=unchanged(listed)))
        filtered = {"status": "completed", "sort": "duration", "since": "24h"}
        check(jobs, "GET", http.get(jobs, params=filtered))
        check(jobs, "GET", http.get(jobs, params={"limit": "0"}))

        one, mine, unknown = "/api/jobs/{job_id}", f"/api/jobs/{job_id}", f"/api/jobs/{UNKNOWN_ID}"
        detail = http.get(mine)
        check(one, "GET", detail)
        assert detail.json()["summary_raw"] is not None
        check(one, "GET", http.get(mine, headers=unchanged(detail)))
        check(one, "GET", http.get("/api/jobs/nope"))
        check(one, "GET", http.get(unknown))

        logs_path = one + "/logs"
        logs = http.get(mine + "/logs", params={"lines": 3})
        check(logs_path, "GET", logs)
        assert logs.json()["has_more"] is True
        check(
            logs_path, "GET", http.get(mine + "/logs", params={"lines": 3}, headers=unchanged(logs))
        )
        check(logs_path, "GET", http.get(unknown + "/logs"))
        check(logs_path, "GET", http.get(mine + "/logs", params={"lines": "x"}))

        errors_path = one + "/errors"
        errors = http.get(mine + "/errors")
        check(errors_path, "GET", errors)
        assert errors.json()["total"] == 1
        check(errors_path, "GET", http.get(unknown + "/errors"))
        check(errors_path, "GET", http.get(mine + "/errors", params={"offset": "-1"}))

        cancel_path = one + "/cancel"
        check(cancel_path, "POST", http.post(mine + "/cancel", json={}))
        check(cancel_path, "POST", http.post(unknown + "/cancel", json={}))
        check(cancel_path, "POST", http.post(mine + "/cancel", content=b"x"))
        queued = http.post(jobs, json={"job_type": "scan", "path": str(library.root)})
        check(cancel_path, "POST", http.post(f"{jobs}/{queued.json()['id']}/cancel", json={}))

        retry_path = one + "/retry"
        retried = http.post(mine + "/retry")
        check(retry_path, "POST", retried)
        assert retried.json()["retry_of"] == job_id
        check(retry_path, "POST", http.post(f"{jobs}/{retried.json()['id']}/retry"))
        check(retry_path, "POST", http.post(unknown + "/retry"))
        check(retry_path, "POST", http.post(mine + "/retry", json={"x": 1}))
        check("/api/jobs", "POST", http.post(jobs, json={"job_type": "scan", "path": "/etc"}))

        stats = http.get("/api/stats")
        check("/api/stats", "GET", stats)
        check("/api/stats", "GET", http.get("/api/stats", headers=unchanged(stats)))
        check("/api/stats", "GET", http.get("/api/stats", params={"x": "1"}))

        check("/api/roots", "GET", http.get("/api/roots"))
        check("/api/browse", "GET", http.get("/api/browse", params={"path": str(tmp_path)}))
        check("/api/browse", "GET", http.get("/api/browse", params={"path": "/etc"}))
        check("/api/browse", "GET", http.get("/api/browse"))

        polling = http.get("/api/config/polling")
        check("/api/config/polling", "GET", polling)
        check(
            "/api/config/polling",
            "GET",
            http.get("/api/config/polling", headers=unchanged(polling)),
        )

    with daemon.client(authenticated=False) as anonymous:
        check("/api/jobs", "GET", anonymous.get("/api/jobs"))

    statuses = {status for _, _, status in contract.checked}
    assert {"200", "201", "304", "400", "401", "403", "404", "409", "413", "415"} <= statuses
