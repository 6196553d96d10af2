"""`vpo daemons`: the named daemons of the client config, each with its `/health`, one line each.

The daemons are asked at the same time (one thread each, a short timeout), so one that does not
answer costs the listing one timeout, not one per daemon. `/health` needs no token, so the
listing works before any token is set up; a daemon that cannot be reached is a line of the
listing, not a failure of the command.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import click

from vpo.client import ApiError, VpoClient, VpoError
from vpo.client_settings import configured_daemons, normalise_base_url

HEALTH_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class DaemonHealth:
    """One line of `vpo daemons` (and one object of `--json`)."""

    name: str
    url: str
    default: bool
    reachable: bool
    status: str | None = None  # "ok", "degraded", "unhealthy"; None when unreachable
    version: str | None = None
    running: int | None = None
    queued: int | None = None
    error: str | None = None


def ask_health(name: str, url: str, *, default: bool) -> DaemonHealth:
    """GET /health of one daemon; any failure becomes the line's `error`."""
    try:
        base = normalise_base_url(url)
    except VpoError as exc:
        return DaemonHealth(name, url, default, reachable=False, error=str(exc))
    try:
        with VpoClient(base, timeout=HEALTH_TIMEOUT_S) as client:
            body: dict[str, Any] = client.health()
    except ApiError as exc:
        # A 503 (degraded, unhealthy) is an answer: the daemon is there, with a problem.
        details = exc.details if isinstance(exc.details, dict) else {}
        if exc.status == 503 and details:
            return _from_body(name, base, default, details, error=exc.message)
        return DaemonHealth(name, base, default, reachable=True, error=str(exc))
    except VpoError as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        return DaemonHealth(name, base, default, reachable=False, error=reason)
    return _from_body(name, base, default, body)


def _from_body(
    name: str, url: str, default: bool, body: dict[str, Any], error: str | None = None
) -> DaemonHealth:
    def count(key: str) -> int | None:
        value = body.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    version = body.get("version")
    status = body.get("status")
    return DaemonHealth(
        name,
        url,
        default,
        reachable=True,
        status=status if isinstance(status, str) else None,
        version=version if isinstance(version, str) else None,
        running=count("jobs_running"),
        queued=count("jobs_queued"),
        error=error,
    )


def health_line(health: DaemonHealth, name_width: int, url_width: int) -> str:
    mark = "*" if health.default else " "
    head = f"{mark} {health.name.ljust(name_width)}  {health.url.ljust(url_width)}"
    if not health.reachable:
        return f"{head}  ✗ unreachable: {health.error}"
    state = "●" if health.status == "ok" else "◐"
    words = [f"{state} {health.status or 'answering'}"]
    if health.version:
        words.append(f"v{health.version}")
    if health.running is not None and health.queued is not None:
        words.append(f"{health.running} running, {health.queued} queued")
    if health.error and health.status != "ok":
        words.append(health.error)
    return f"{head}  " + "  ".join(words)


@click.command("daemons")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
def daemons(as_json: bool) -> None:
    """List the named daemons of the client config with their health (one line each)."""
    try:
        config = configured_daemons(os.environ)
    except VpoError as exc:
        raise click.ClickException(str(exc)) from None
    entries = list(config.daemons.values())
    if not entries:
        if as_json:
            click.echo("[]")
            return
        click.echo(f'no named daemons: {config.path} has none (see docs/cli.md, "Named daemons")')
        return
    default = config.implicit_choice()
    with ThreadPoolExecutor(max_workers=min(8, len(entries))) as pool:
        answers = list(
            pool.map(
                lambda entry: ask_health(
                    entry.name, entry.url, default=default is not None and entry is default
                ),
                entries,
            )
        )
    if as_json:
        click.echo(json.dumps([asdict(answer) for answer in answers], indent=2))
        return
    name_width = max(len(answer.name) for answer in answers)
    url_width = max(len(answer.url) for answer in answers)
    for answer in answers:
        click.echo(health_line(answer, name_width, url_width))
