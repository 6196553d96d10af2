"""A daemon environment whose probe workers cannot import `av`, so scans probe with ffprobe.

Some tests watch a scan *while it runs* and need it to keep producing log lines for seconds.
PyAV's workers probe a tiny clip in about a millisecond, so a scan of hundreds of files ends
before a test can look; ffprobe, a process per file, takes tens of milliseconds each. A shadow
`av` package first on PYTHONPATH raises ImportError, which the daemon's first worker reports,
and the scan falls back to ffprobe as it does on a machine without PyAV (docs/scanning.md).
"""

from __future__ import annotations

import os
from pathlib import Path

SHADOW_AV = 'raise ImportError("av is hidden by the test (tests/support/ffprobe_only.py)")\n'


def ffprobe_only_env(tmp_path: Path) -> dict[str, str]:
    """Extra environment for `DaemonProcess(env=...)`: the daemon probes with ffprobe."""
    shadow = tmp_path / "shadow-av"
    (shadow / "av").mkdir(parents=True, exist_ok=True)
    (shadow / "av" / "__init__.py").write_text(SHADOW_AV)
    parts = [str(shadow), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(parts)}
