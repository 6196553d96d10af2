"""Command-line options of `vpo-tui`; the URL and token follow the client's precedence rules."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vpo import __version__
from vpo.client_settings import client_settings, osc52_enabled

INTERVAL_MIN_S = 2.0
INTERVAL_MAX_S = 60.0


@dataclass(frozen=True)
class TuiOptions:
    url: str
    token: str | None
    interval_s: float | None  # None: use the daemon's configured interval
    mouse: bool
    osc52: bool = False  # `y` copies through the terminal (OSC 52) instead of showing the id


def _interval(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number of seconds") from None
    if not INTERVAL_MIN_S <= seconds <= INTERVAL_MAX_S:
        raise argparse.ArgumentTypeError(
            f"{value} is outside {INTERVAL_MIN_S:g}-{INTERVAL_MAX_S:g} seconds"
        )
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vpo-tui",
        description="Terminal client for the VPO daemon: live jobs, details and logs.",
        epilog="Environment: VPO_URL, VPO_TOKEN. Keys: press ? inside the app.",
    )
    parser.add_argument(
        "--url", help="daemon URL (default: $VPO_URL, the daemon config, http://127.0.0.1:8321)"
    )
    parser.add_argument("--token", help="API token (default: $VPO_TOKEN or the daemon config)")
    parser.add_argument(
        "--interval",
        type=_interval,
        metavar="S",
        help="seconds between polls, 2-60 (default: the daemon's polling.interval_seconds)",
    )
    parser.add_argument(
        "--no-mouse", action="store_true", help="do not capture the mouse (keyboard only)"
    )
    parser.add_argument(
        "--osc52",
        action="store_true",
        help="let y copy a job id to the clipboard through the terminal (OSC 52); "
        "default: tui.osc52 in the config file, else off",
    )
    # The same wording as `vpo --version`.
    parser.add_argument("--version", action="version", version=f"%(prog)s, version {__version__}")
    return parser


def parse_options(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> TuiOptions:
    """Parse arguments; bad input exits with status 2 and a one-line reason (argparse)."""
    args = build_parser().parse_args(argv)
    environment = os.environ if env is None else env
    url, token = client_settings(args.url, args.token, environment)
    return TuiOptions(
        url=url,
        token=token,
        interval_s=args.interval,
        mouse=not args.no_mouse,
        osc52=args.osc52 or osc52_enabled(environment),
    )
