"""Command-line options of `vpo-tui`; the URL and token follow the client's precedence rules
(vpo/client_settings.py: one resolution path with the CLI, named daemons included)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vpo import __version__
from vpo.client_errors import VpoError
from vpo.client_settings import DaemonTarget, osc52_enabled, resolve_daemon, resolve_daemons

INTERVAL_MIN_S = 2.0
INTERVAL_MAX_S = 60.0


@dataclass(frozen=True)
class TuiOptions:
    url: str
    token: str | None
    interval_s: float | None  # None: use the daemon's configured interval
    mouse: bool
    # Several daemons in one view (--all, or --daemon given more than once); empty otherwise.
    targets: tuple[DaemonTarget, ...] = ()
    daemon_name: str | None = None  # the one named daemon watched, when there is one

    @property
    def several(self) -> bool:
        return bool(self.targets)

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
        epilog="Environment: VPO_URL, VPO_TOKEN, VPO_DAEMON, XDG_CONFIG_HOME. Named daemons: "
        "~/.config/vpo/client.toml (see `vpo daemons`). Keys: press ? inside the app.",
    )
    parser.add_argument(
        "--url", help="daemon URL (default: $VPO_URL, the daemon config, http://127.0.0.1:8321)"
    )
    parser.add_argument("--token", help="API token (default: $VPO_TOKEN or the daemon config)")
    parser.add_argument(
        "--daemon",
        action="append",
        metavar="NAME",
        help="a named daemon of the client config (default: $VPO_DAEMON, else its default); "
        "give it more than once to watch several in one list",
    )
    parser.add_argument(
        "--all", action="store_true", help="watch every named daemon of the client config"
    )
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
    parser = build_parser()
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    names: list[str] = args.daemon or []
    osc52 = args.osc52 or osc52_enabled(env)
    try:
        if args.all or len(names) > 1:
            if args.url:
                parser.error("--url names one daemon; it cannot be combined with --all")
            targets = resolve_daemons(names, every=args.all, token_flag=args.token, env=env)
            first = targets[0]
            return TuiOptions(
                url=first.url,
                token=first.token,
                interval_s=args.interval,
                mouse=not args.no_mouse,
                targets=tuple(targets),
                osc52=osc52,
            )
        target = resolve_daemon(args.url, args.token, env, daemon_flag=names[0] if names else None)
    except VpoError as exc:
        parser.error(str(exc))  # one line and exit 2, never a traceback
    return TuiOptions(
        url=target.url,
        token=target.token,
        interval_s=args.interval,
        mouse=not args.no_mouse,
        daemon_name=target.name,
        osc52=osc52,
    )
