"""Subcommands of the `vpo` command line."""
