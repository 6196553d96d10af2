"""HTML pages of the web dashboard (§9). Owned by the web-dashboard engineer; this stub only
exists so the app factory can call `setup_web(app)` before the pages land."""

from aiohttp import web


def setup_web(app: web.Application) -> None:
    """Add the dashboard's routes (pages, static files) to `app`."""
