"""vpo-tui: the Textual client for the VPO daemon."""
