"""The screens of vpo-tui: the jobs list, a job's detail, and the small dialogs."""
