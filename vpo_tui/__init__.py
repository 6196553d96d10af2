"""vpo-tui: the Textual client for the VPO daemon."""

import sys

# vpo-tui runs on asyncio only, but httpcore (httpx's transport, imported when the first
# client is made) imports trio at its own import whenever trio is installed, to serve trio
# callers: ~150 ms of start-up on this machine where
# a dev tool (selenium) installs trio. A None entry makes that one import fail, so httpcore
# takes its "no trio" path; it is removed at once, so anything else in the process (a test run
# driving selenium) still imports trio normally.
if "httpcore" not in sys.modules and "trio" not in sys.modules:
    sys.modules["trio"] = None  # type: ignore[assignment]
    try:
        import httpcore  # noqa: F401 (imported here for the line above)
    finally:
        del sys.modules["trio"]
