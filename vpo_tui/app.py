"""Entry point for `vpo-tui` (the terminal client lands in its own issue)."""


def main() -> None:
    raise SystemExit("vpo-tui: not built yet")
