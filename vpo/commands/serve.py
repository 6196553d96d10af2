"""`vpo serve`: the daemon (jobs worker + HTTP API + web dashboard)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from vpo.config import LOG_FORMATS, LOG_LEVELS, ConfigError, load_settings


@click.command()
@click.option("--bind", help="Address to listen on (default 127.0.0.1; others need a token).")
@click.option("--port", type=int, help="TCP port (default 8321).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default <data dir>/config.toml).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where vpo.db and logs/ live (default $VPO_DATA_DIR, else ~/.vpo).",
)
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False))
@click.option("--log-format", type=click.Choice(LOG_FORMATS, case_sensitive=False))
def serve(
    bind: str | None,
    port: int | None,
    config_path: Path | None,
    data_dir: Path | None,
    log_level: str | None,
    log_format: str | None,
) -> None:
    """Run the daemon: take queued jobs, serve the API and the dashboard until SIGTERM.

    Each setting comes from the flag, else its VPO_* environment variable, else the config
    file, else the default.
    """
    cli = {
        "bind": bind,
        "port": port,
        "data_dir": data_dir,
        "log_level": log_level,
        "log_format": log_format,
    }
    try:
        # The bind check is the server's (it also wants a long enough token).
        settings, warnings = load_settings(cli, os.environ, config_path, check_bind=False)
    except ConfigError as exc:
        click.echo(f"vpo serve: {exc}", err=True)
        sys.exit(2)
    # Imported here: `vpo --help` and the other commands should not pay for aiohttp.
    from vpo.server.app import serve as run_server

    sys.exit(run_server(settings, warnings))
