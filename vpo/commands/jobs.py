"""`vpo jobs` (placeholder until its module lands)."""

import click


@click.command()
def jobs() -> None:
    """Not built yet."""
    raise click.ClickException("vpo jobs: not built yet")
