"""The OpenAPI 3.1 description of the API, served at `GET /api/openapi.json`.

Written by hand next to the handlers and kept true by tests: the integration tests validate real
responses against these schemas and a schemathesis run fuzzes the live daemon from this document.
Schemas are closed (`additionalProperties: false`) so that a field added to a response without
being described here fails a test instead of drifting silently.
"""

from __future__ import annotations

from typing import Any

from vpo.jobs import JOB_TYPES, STATUSES
from vpo.server.errors import ERROR_CODES
from vpo.server.query import (
    BROWSE_DEFAULT_LIMIT,
    BROWSE_MAX_LIMIT,
    DEFAULT_LIMIT,
    ERRORS_DEFAULT_LIMIT,
    ERRORS_MAX_LIMIT,
    LOG_DEFAULT_LINES,
    LOG_MAX_LINES,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_PATH_LENGTH,
    MAX_SEARCH_LENGTH,
    ORDERS,
    SINCE_PATTERN,
    SORT_FIELDS,
)

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


COUNT = {"type": "integer", "minimum": 0}
TIMESTAMP = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601 UTC, e.g. 2026-11-30T06:13:23.123Z",
}
UUID = {
    "type": "string",
    "format": "uuid",
    "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
}

JOB_LIST_PROPERTIES: dict[str, Any] = {
    "id": UUID,
    "id_short": {
        "type": "string",
        "pattern": "^[0-9a-f]{8}$",
        "description": "First 8 characters of the id",
    },
    "job_type": {"type": "string", "description": "scan; other types may appear later"},
    "status": {
        "type": "string",
        "description": "queued, running, completed, failed, cancelled (or newer ones)",
    },
    "priority": {"type": "integer", "description": "Lower runs first"},
    "file_path": {
        "type": "string",
        "description": "The job's target; in the escaped form when file_path_is_utf8 is false",
    },
    "file_path_is_utf8": {
        "type": "boolean",
        "description": "false: the target's name is not valid UTF-8 and file_path shows each "
        "such byte as \\xNN and each backslash as \\\\",
    },
    "created_at": TIMESTAMP,
    "started_at": _nullable(TIMESTAMP),
    "completed_at": _nullable(TIMESTAMP),
    "progress_percent": {
        "type": ["number", "null"],
        "minimum": 0,
        "maximum": 100,
        "description": "null while the total is unknown",
    },
    "phase": {"type": ["string", "null"], "description": "e.g. discover, hash, probe"},
    "processed_count": COUNT,
    "total_count": _nullable(COUNT),
    "duration_seconds": {
        **_nullable(COUNT),
        "description": "Whole seconds from started_at to completed_at, or to now while running",
    },
    "error_message": {"type": ["string", "null"]},
    "attempts": COUNT,
}

JOB_DETAIL_PROPERTIES: dict[str, Any] = {
    **JOB_LIST_PROPERTIES,
    "summary": {"type": ["string", "null"], "description": "One human sentence, or null"},
    "summary_raw": {
        "type": ["object", "null"],
        "description": "Counts of a scan (other job types may carry other keys)",
        "properties": {
            "found": COUNT,
            "scanned": COUNT,
            "skipped": COUNT,
            "added": COUNT,
            "removed": COUNT,
            "errors": COUNT,
            "probe_skipped": {"type": "boolean"},
        },
    },
    "has_logs": {"type": "boolean"},
    "errors_count": {
        **COUNT,
        "description": "Per-file errors recorded so far (GET .../errors lists them); grows "
        "while the job runs",
    },
    "retry_of": {
        "type": ["string", "null"],
        "pattern": UUID["pattern"],
        "description": "The job this one repeats (POST /api/jobs/{job_id}/retry), or null",
    },
}

ESCAPED_NAME = {
    "type": "string",
    "description": "In the escaped form when the matching *_is_utf8 flag is false",
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        **_closed(
            {
                "error": {"type": "string", "description": "A human sentence"},
                "code": {"type": "string", "enum": list(ERROR_CODES)},
                "details": {
                    "type": "object",
                    "description": 'e.g. {"parameter": "limit"} for 400s',
                },
            }
        ),
        "description": "The one error envelope of every error response",
    },
    "Health": _closed(
        {
            "status": {"type": "string", "enum": ["ok", "unhealthy"]},
            "version": {"type": "string"},
            "uptime_seconds": COUNT,
            "database": {"type": "string", "enum": ["ok", "unavailable"]},
            "jobs_queued": COUNT,
            "jobs_running": COUNT,
            "store_id": {
                "type": "string",
                "pattern": "^[0-9a-f]{16}$",
                "description": "A random id of the daemon's job database: a client on the same "
                "machine compares it with the database it would open itself",
            },
        }
    ),
    "JobListItem": _closed(JOB_LIST_PROPERTIES),
    "JobDetail": _closed(JOB_DETAIL_PROPERTIES),
    "JobPage": _closed(
        {
            "jobs": {"type": "array", "items": _ref("JobListItem"), "maxItems": MAX_LIMIT},
            "total": {**COUNT, "description": "All jobs matching the filters"},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "offset": COUNT,
            "has_filters": {"type": "boolean"},
        }
    ),
    "LogPage": _closed(
        {
            "job_id": UUID,
            "lines": {"type": "array", "items": {"type": "string"}, "maxItems": LOG_MAX_LINES},
            "total_lines": COUNT,
            "offset": COUNT,
            "has_more": {"type": "boolean"},
        }
    ),
    "FileError": _closed(
        {
            "path": {
                "type": "string",
                "description": "In the escaped form when path_is_utf8 is false",
            },
            "path_is_utf8": {
                "type": "boolean",
                "description": "false: the name is not valid UTF-8 (bytes shown as \\xNN)",
            },
            "message": {"type": "string"},
            "created_at": TIMESTAMP,
        }
    ),
    "ErrorPage": _closed(
        {
            "job_id": UUID,
            "errors": {"type": "array", "items": _ref("FileError"), "maxItems": ERRORS_MAX_LIMIT},
            "total": COUNT,
            "limit": {"type": "integer", "minimum": 1, "maximum": ERRORS_MAX_LIMIT},
            "offset": COUNT,
        }
    ),
    "ScanRequest": _closed(
        {
            "job_type": {"type": "string", "const": "scan"},
            "path": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_PATH_LENGTH,
                "pattern": "^/",
                "description": "An existing directory on the daemon's machine, absolute; "
                "in the escaped form when path_is_utf8 is false",
            },
            "path_is_utf8": {
                "type": "boolean",
                "default": True,
                "description": "false: path is in the escaped form (bytes that are not UTF-8 "
                "as \\xNN, backslashes as \\\\), for a directory whose name is not UTF-8",
            },
            "full": {
                "type": "boolean",
                "default": False,
                "description": "Rescan unchanged files too",
            },
        },
        required=["job_type", "path"],
    ),
    "CancelRequest": {**_closed({}), "description": "An empty object (or no body)"},
    "RetryRequest": {**_closed({}), "description": "An empty object (or no body)"},
    "Stats": _closed(
        {
            "queued": {**COUNT, "description": "Jobs waiting now"},
            "running": {**COUNT, "description": "Jobs running now"},
            "last_24h": {
                **_closed({"completed": COUNT, "failed": COUNT, "cancelled": COUNT}),
                "description": "Jobs that ended within the last 24 hours, by how they ended "
                "(the window moves by whole minutes)",
            },
        }
    ),
    "Roots": _closed(
        {
            "restricted": {
                "type": "boolean",
                "description": "true: scans must lie under a root and browsing is on; false: "
                "no roots are configured, any directory may be scanned, browsing is off",
            },
            "roots": {
                "type": "array",
                "items": _closed(
                    {
                        "path": ESCAPED_NAME,
                        "path_is_utf8": {"type": "boolean"},
                        "available": {
                            "type": "boolean",
                            "description": "The root is an existing directory right now",
                        },
                    }
                ),
            },
        }
    ),
    "DirectoryPage": _closed(
        {
            "path": {**ESCAPED_NAME, "description": "The directory listed (normalised)"},
            "path_is_utf8": {"type": "boolean"},
            "directories": {
                "type": "array",
                "maxItems": BROWSE_MAX_LIMIT,
                "items": _closed({"name": ESCAPED_NAME, "name_is_utf8": {"type": "boolean"}}),
                "description": "Sub-directories by name, hidden ones left out, sorted (case "
                "folded); a symlink is listed only when it leads within a root",
            },
            "total": COUNT,
            "limit": {"type": "integer", "minimum": 1, "maximum": BROWSE_MAX_LIMIT},
            "offset": COUNT,
        }
    ),
    "PollingConfig": _closed(
        {
            "interval_ms": {"type": "integer", "minimum": 2000, "maximum": 60000},
            "log_interval_ms": {"type": "integer", "minimum": 2000},
            "enabled": {"type": "boolean"},
        }
    ),
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("Error")}}}


RESPONSES: dict[str, Any] = {
    "BadRequest": _error(
        "A parameter or the body is invalid (details.parameter names it), or the request is "
        "not valid HTTP (MALFORMED_REQUEST)"
    ),
    "Unauthorized": {
        **_error("A token is configured and the request did not carry it"),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    "Forbidden": _error(
        "A cross-origin POST, or a Host that is not this daemon (FORBIDDEN); a path outside "
        "the scan roots (PATH_NOT_ALLOWED); browsing while no scan roots are configured "
        "(NO_SCAN_ROOTS)"
    ),
    "NotFound": _error("No such job"),
    "UnsupportedMediaType": _error("A POST whose body is not application/json"),
    "PayloadTooLarge": _error("The request body is too large"),
    "RequestTimeout": _error("The request body did not arrive within the body timeout"),
    "HeaderTooLarge": _error("The request line or a header is too long, or too many headers"),
    "InternalError": _error("An unexpected error; details are in the daemon log"),
    "Unavailable": {
        **_error(
            "The daemon is shutting down (SHUTTING_DOWN), unhealthy, or has too many open "
            "connections (TOO_MANY_CONNECTIONS)"
        ),
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
    },
    "InsufficientStorage": {
        **_error(
            "The disk holding the data dir is full (INSUFFICIENT_STORAGE); nothing was saved. "
            "The daemon recovers by itself once there is room; details.reason says what is full"
        ),
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
    },
}

ETAG_HEADERS = {
    "ETag": {"description": "Strong tag of the body", "schema": {"type": "string"}},
    "Cache-Control": {"schema": {"type": "string", "const": "no-cache"}},
    "X-Cache": {
        "description": "HIT: served from the response cache without reading any job; MISS: built",
        "schema": {"type": "string", "enum": ["HIT", "MISS"]},
    },
    "X-Poll-Interval": {
        "description": (
            "Milliseconds to wait before the next poll: the polling interval while any job is "
            "queued or running, the idle interval otherwise (also on 304s)"
        ),
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}

PARAMETERS: dict[str, Any] = {
    "JobId": {"name": "job_id", "in": "path", "required": True, "schema": UUID},
    "IfNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": "A tag from an earlier response; 304 when it still matches",
        "schema": {"type": "string"},
    },
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _ok(description: str, schema: str, *, etag: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": _ref(schema)}},
    }
    if etag:
        response["headers"] = ETAG_HEADERS
    return response


def _with_errors(responses: dict[str, Any], *codes: str) -> dict[str, Any]:
    names = {
        "400": "BadRequest",
        "401": "Unauthorized",
        "403": "Forbidden",
        "404": "NotFound",
        "408": "RequestTimeout",
        "413": "PayloadTooLarge",
        "415": "UnsupportedMediaType",
        "431": "HeaderTooLarge",
        "500": "InternalError",
        "503": "Unavailable",
        "507": "InsufficientStorage",
    }
    merged = dict(responses)
    for code in (*codes, "401", "403", "431", "500", "503"):
        merged[code] = {"$ref": f"#/components/responses/{names[code]}"}
    return merged


# Where a new job's id leads (OpenAPI links; schemathesis' stateful phase follows them).
JOB_LINKS = {
    name: {"operationId": operation, "parameters": {"job_id": "$response.body#/id"}}
    for name, operation in (
        ("GetJob", "getJob"),
        ("GetJobLogs", "getJobLogs"),
        ("GetJobErrors", "getJobErrors"),
        ("CancelJob", "cancelJob"),
        ("RetryJob", "retryJob"),
    )
}

NOT_MODIFIED = {
    "description": "Not modified: the If-None-Match tag is current; no body",
    "headers": ETAG_HEADERS,
}


def _paths() -> dict[str, Any]:
    job_id = {"$ref": "#/components/parameters/JobId"}
    if_none_match = {"$ref": "#/components/parameters/IfNoneMatch"}
    limit_offset = [
        _query(
            "limit",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": ERRORS_MAX_LIMIT,
                "default": ERRORS_DEFAULT_LIMIT,
            },
            "Page size",
        ),
        _query(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
            "Rows to skip",
        ),
    ]
    return {
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Liveness and job counts; never needs a token",
                "security": [],
                "responses": {
                    "200": _ok("Healthy", "Health"),
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "431": {"$ref": "#/components/responses/HeaderTooLarge"},
                    "500": {"$ref": "#/components/responses/InternalError"},
                    "503": {
                        **_error(
                            "Shutting down (SHUTTING_DOWN), the database not answering "
                            "(UNHEALTHY), or degraded (DEGRADED): the database answers but "
                            "nothing can be written, e.g. a full disk. details holds the health "
                            'fields, with status "unhealthy" or "degraded" and, when degraded, '
                            "the reason"
                        )
                    },
                },
            }
        },
        "/api/jobs": {
            "get": {
                "operationId": "listJobs",
                "summary": "A page of jobs, filtered and sorted (stable: ties broken by id)",
                "parameters": [
                    _query(
                        "status",
                        {"type": "string", "enum": list(STATUSES)},
                        "Only jobs in this status",
                    ),
                    _query(
                        "type",
                        {"type": "string", "enum": list(JOB_TYPES)},
                        "Only jobs of this type. Another type is accepted only while a stored "
                        "job has it (written by a newer version); otherwise 400",
                    ),
                    _query(
                        "since",
                        {
                            "type": "string",
                            "pattern": SINCE_PATTERN,
                            "examples": ["24h", "7d", "30d"],
                        },
                        "Only jobs created within this window: 1h-87600h or 1d-3650d",
                    ),
                    _query(
                        "search",
                        {"type": "string", "maxLength": MAX_SEARCH_LENGTH},
                        "Substring of the target path",
                    ),
                    _query(
                        "sort",
                        {"type": "string", "enum": list(SORT_FIELDS), "default": "created_at"},
                        "Sort field",
                    ),
                    _query(
                        "order",
                        {"type": "string", "enum": list(ORDERS), "default": "desc"},
                        "Sort order",
                    ),
                    _query(
                        "limit",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_LIMIT,
                            "default": DEFAULT_LIMIT,
                        },
                        "Page size",
                    ),
                    _query(
                        "offset",
                        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
                        "Rows to skip",
                    ),
                    _query(
                        "id_prefix",
                        {"type": "string", "pattern": "^[0-9a-f-]{1,36}$"},
                        "Jobs whose id starts with this (resolves short ids)",
                    ),
                    if_none_match,
                ],
                "responses": _with_errors(
                    {"200": _ok("A page of jobs", "JobPage", etag=True), "304": NOT_MODIFIED},
                    "400",
                ),
            },
            "post": {
                "operationId": "submitJob",
                "summary": "Queue a scan of a directory on the daemon's machine",
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _ref("ScanRequest")}},
                },
                "responses": _with_errors(
                    {
                        "201": {
                            **_ok("The queued job", "JobDetail"),
                            "headers": {"Location": {"schema": {"type": "string"}}},
                            "links": JOB_LINKS,
                        }
                    },
                    "400",
                    "408",
                    "413",
                    "415",
                    "507",
                ),
            },
        },
        "/api/jobs/{job_id}": {
            "get": {
                "operationId": "getJob",
                "summary": "One job with every field",
                "parameters": [job_id, if_none_match],
                "responses": _with_errors(
                    {"200": _ok("The job", "JobDetail", etag=True), "304": NOT_MODIFIED},
                    "400",
                    "404",
                ),
            }
        },
        "/api/jobs/{job_id}/logs": {
            "get": {
                "operationId": "getJobLogs",
                "summary": "A page of the job's log lines",
                "parameters": [
                    job_id,
                    _query(
                        "lines",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": LOG_MAX_LINES,
                            "default": LOG_DEFAULT_LINES,
                        },
                        "Lines to return",
                    ),
                    _query(
                        "offset",
                        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
                        "First line, counted from the start of the log",
                    ),
                    if_none_match,
                ],
                "responses": _with_errors(
                    {"200": _ok("Log lines", "LogPage", etag=True), "304": NOT_MODIFIED},
                    "400",
                    "404",
                ),
            }
        },
        "/api/jobs/{job_id}/errors": {
            "get": {
                "operationId": "getJobErrors",
                "summary": "Files the job could not read or probe, with a true total",
                "parameters": [job_id, *limit_offset],
                "responses": _with_errors({"200": _ok("File errors", "ErrorPage")}, "400", "404"),
            }
        },
        "/api/jobs/{job_id}/cancel": {
            "post": {
                "operationId": "cancelJob",
                "summary": "Cancel a queued job now, or a running one at its next file",
                "parameters": [job_id],
                "requestBody": {
                    "required": False,
                    "content": {JSON: {"schema": _ref("CancelRequest")}},
                },
                "responses": _with_errors(
                    {
                        "200": _ok("The job after the request", "JobDetail"),
                        "409": {
                            **_error("The job already ended (ALREADY_TERMINAL)"),
                        },
                    },
                    "400",
                    "404",
                    "408",
                    "413",
                    "415",
                    "507",
                ),
            }
        },
        "/api/jobs/{job_id}/retry": {
            "post": {
                "operationId": "retryJob",
                "summary": "Queue a new job with the same type, target and parameters as an "
                "ended one (its retry_of names that job)",
                "parameters": [job_id],
                "requestBody": {
                    "required": False,
                    "content": {JSON: {"schema": _ref("RetryRequest")}},
                },
                "responses": _with_errors(
                    {
                        "201": {
                            **_ok("The new queued job", "JobDetail"),
                            "headers": {"Location": {"schema": {"type": "string"}}},
                            "links": JOB_LINKS,
                        },
                        "409": _error("The job is still queued or running (NOT_FINISHED)"),
                    },
                    "400",
                    "404",
                    "408",
                    "413",
                    "415",
                    "507",
                ),
            }
        },
        "/api/stats": {
            "get": {
                "operationId": "getStats",
                "summary": "Counters: jobs queued and running, jobs ended in the last 24 hours",
                "parameters": [if_none_match],
                "responses": _with_errors(
                    {"200": _ok("The counters", "Stats", etag=True), "304": NOT_MODIFIED},
                    "400",
                ),
            }
        },
        "/api/roots": {
            "get": {
                "operationId": "listRoots",
                "summary": "The scan roots ([scan] roots): where scans may lie and browsing starts",
                "responses": _with_errors({"200": _ok("The roots", "Roots")}, "400"),
            }
        },
        "/api/browse": {
            "get": {
                "operationId": "browse",
                "summary": "A page of the sub-directories of a directory under a scan root",
                "parameters": [
                    {
                        **_query(
                            "path",
                            {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": MAX_PATH_LENGTH,
                                "pattern": "^/",
                            },
                            "An absolute directory under a scan root; in the escaped form when "
                            "path_is_utf8 is false",
                        ),
                        "required": True,
                    },
                    _query(
                        "path_is_utf8",
                        {"type": "string", "enum": ["true", "false"], "default": "true"},
                        "false: path is in the escaped form",
                    ),
                    _query(
                        "limit",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": BROWSE_MAX_LIMIT,
                            "default": BROWSE_DEFAULT_LIMIT,
                        },
                        "Page size",
                    ),
                    _query(
                        "offset",
                        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
                        "Rows to skip",
                    ),
                ],
                "responses": _with_errors({"200": _ok("Sub-directories", "DirectoryPage")}, "400"),
            }
        },
        "/api/config/polling": {
            "get": {
                "operationId": "getPollingConfig",
                "summary": "How often clients should poll, as the daemon is configured",
                "parameters": [if_none_match],
                "responses": _with_errors(
                    {
                        "200": _ok("Polling settings", "PollingConfig", etag=True),
                        "304": NOT_MODIFIED,
                    },
                    "400",
                ),
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "responses": _with_errors(
                    {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {JSON: {"schema": {"type": "object"}}},
                        }
                    },
                    "400",
                ),
            }
        },
    }


def openapi_document(version: str) -> dict[str, Any]:
    """The whole document; `version` is the daemon's."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "VPO daemon API",
            "version": version,
            "description": (
                "Jobs of the VPO daemon (`vpo serve`). Every response is JSON; every error uses "
                "the Error envelope. Polled GETs carry a strong ETag and `Cache-Control: "
                "no-cache`; send it back in If-None-Match to get 304 without a body. When the "
                "daemon has a token, every route but /health needs `Authorization: Bearer "
                "<token>` or HTTP Basic with the token as password. POSTs with a body must be "
                "application/json and, when an Origin header is present, same-origin."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerToken": []}, {"basicToken": []}, {}],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "responses": RESPONSES,
            "parameters": PARAMETERS,
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer"},
                "basicToken": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "Any user name; the token as password",
                },
            },
        },
    }
