"""`vpo serve` (placeholder until its module lands)."""

import click


@click.command()
def serve() -> None:
    """Not built yet."""
    raise click.ClickException("vpo serve: not built yet")
