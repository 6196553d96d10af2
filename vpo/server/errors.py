"""The one JSON error envelope of the API: `{"error": sentence, "code": CODE, "details": {...}}`.

Handlers raise `ApiError`; the error middleware in `app.py` turns it (and aiohttp's own HTTP
errors, and anything unexpected) into an envelope response, so no code path can answer an error
in another shape or leak a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

# Machine codes, one per kind of failure; clients switch on these, never on the sentence.
INVALID_PARAMETER = "INVALID_PARAMETER"
INVALID_ID_FORMAT = "INVALID_ID_FORMAT"
INVALID_JSON = "INVALID_JSON"
MALFORMED_REQUEST = "MALFORMED_REQUEST"
UNAUTHORIZED = "UNAUTHORIZED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
ALREADY_TERMINAL = "ALREADY_TERMINAL"
NOT_FINISHED = "NOT_FINISHED"
PATH_NOT_ALLOWED = "PATH_NOT_ALLOWED"
NO_SCAN_ROOTS = "NO_SCAN_ROOTS"
REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
HEADER_TOO_LARGE = "HEADER_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
INTERNAL_ERROR = "INTERNAL_ERROR"
SHUTTING_DOWN = "SHUTTING_DOWN"
TOO_MANY_CONNECTIONS = "TOO_MANY_CONNECTIONS"
UNHEALTHY = "UNHEALTHY"
DEGRADED = "DEGRADED"
INSUFFICIENT_STORAGE = "INSUFFICIENT_STORAGE"
HTTP_ERROR = "HTTP_ERROR"

ERROR_CODES = (
    INVALID_PARAMETER,
    INVALID_ID_FORMAT,
    INVALID_JSON,
    MALFORMED_REQUEST,
    UNAUTHORIZED,
    FORBIDDEN,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    ALREADY_TERMINAL,
    NOT_FINISHED,
    PATH_NOT_ALLOWED,
    NO_SCAN_ROOTS,
    REQUEST_TIMEOUT,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    HEADER_TOO_LARGE,
    INTERNAL_ERROR,
    SHUTTING_DOWN,
    TOO_MANY_CONNECTIONS,
    UNHEALTHY,
    DEGRADED,
    INSUFFICIENT_STORAGE,
    HTTP_ERROR,
)

# aiohttp raises these statuses itself (routing, body size); they map to our codes.
CODE_FOR_STATUS = {
    400: INVALID_PARAMETER,
    401: UNAUTHORIZED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    408: REQUEST_TIMEOUT,
    409: ALREADY_TERMINAL,
    413: PAYLOAD_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
    500: INTERNAL_ERROR,
    503: SHUTTING_DOWN,
}

MESSAGE_FOR_STATUS = {
    404: "No such resource.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
}


class ApiError(Exception):
    """An error answer: HTTP status, machine code, one human sentence, structured details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})


def invalid_parameter(parameter: str, message: str) -> ApiError:
    return ApiError(400, INVALID_PARAMETER, message, {"parameter": parameter})


def not_found(message: str = "No such resource.", **details: Any) -> ApiError:
    return ApiError(404, NOT_FOUND, message, details)


def insufficient_storage(reason: str) -> ApiError:
    """507: the data dir's disk is full, so nothing new can be promised; retrying later works."""
    return ApiError(
        507,
        INSUFFICIENT_STORAGE,
        f"Nothing can be saved right now: {reason}. Free some space; the daemon recovers by "
        "itself.",
        {"reason": reason},
        headers={"Retry-After": "30"},
    )


def envelope(message: str, code: str, details: Mapping[str, Any] | None = None) -> dict:
    return {"error": message, "code": code, "details": dict(details or {})}


def error_response(
    status: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """An envelope as a JSON response; errors are never cached by browsers or proxies."""
    response = web.Response(
        status=status,
        body=json.dumps(envelope(message, code, details)).encode(),
        content_type="application/json",
        headers=dict(headers or {}),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def response_for(error: ApiError) -> web.Response:
    response = error_response(error.status, error.code, error.message, error.details, error.headers)
    if error.headers.get("Connection", "").lower() == "close":
        # The header alone does not make aiohttp close its side; this does.
        response.force_close()
    return response
