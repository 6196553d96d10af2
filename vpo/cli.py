"""The `vpo` command line: one group, one module per command in `vpo/commands/`."""

import click

from vpo import __version__
from vpo.commands.jobs import jobs
from vpo.commands.scan import scan
from vpo.commands.serve import serve


@click.group()
@click.version_option(__version__, prog_name="vpo")
def main() -> None:
    """VPO: keep a video library in order."""


main.add_command(scan)
main.add_command(serve)
main.add_command(jobs)
