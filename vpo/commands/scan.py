"""`vpo scan` (placeholder until its module lands)."""

import click


@click.command()
def scan() -> None:
    """Not built yet."""
    raise click.ClickException("vpo scan: not built yet")
