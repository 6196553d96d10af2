"""Widgets of vpo-tui; each renders daemon data as plain Text (never markup)."""
