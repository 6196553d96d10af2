"""What PyAV says about a media file, in the shape of ffprobe's JSON.

`describe_container` maps an opened container to the subset of
`ffprobe -show_format -show_streams -of json` that the scan reads (format name and duration,
each stream's index, kind, codec, language tag, channels, width and height). Producing ffprobe's
shape, not a record of its own, means both probers go through the one parser in `vpo/scan.py`,
so a file gets the same record whichever of them probed it.

The mapping is pure: it reads attributes of the container object it is given and never opens a
file, so it is tested with real containers and with plain stand-ins alike. `probe_path` opens a
file with PyAV and is what the probe worker process (`vpo/probe_worker.py`) runs; `av` is
imported there, never at the import of this module, so the daemon itself does not pay for it.
"""

from __future__ import annotations

from typing import Any

# PyAV's durations are in AV_TIME_BASE units (microseconds).
AV_TIME_BASE = 1_000_000


def format_duration(duration: int | None) -> str | None:
    """A container duration written as ffprobe writes it: seconds with six decimals.

    ffprobe prints `duration * 1e-6` with "%f"; the same text parses to the same float, so the
    record's duration does not depend on the prober. None (unknown) stays unknown.
    """
    if duration is None:
        return None
    return f"{duration / AV_TIME_BASE:.6f}"


def _codec_name(context: Any) -> str | None:
    """The codec's own name ("subrip", "h264"), not the decoder's ("srt", "libdav1d").

    ffprobe names the codec id; PyAV's `canonical_name` is that same name. A stream PyAV has no
    decoder for has no codec context, and then no name is given rather than a guess.
    """
    if context is None:
        return None
    codec = getattr(context, "codec", None)
    name = getattr(codec, "canonical_name", None) if codec is not None else None
    return name or None


def describe_stream(stream: Any) -> dict[str, Any]:
    """One stream as ffprobe's `streams[]` entry (only the keys the scan reads).

    Like ffprobe: width and height for video always, for subtitles only when non-zero (bitmap
    subtitles have a canvas size, text ones do not); channels for audio only.
    """
    kind = getattr(stream, "type", None)
    context = getattr(stream, "codec_context", None)
    entry: dict[str, Any] = {"index": stream.index, "codec_type": kind}
    name = _codec_name(context)
    if name is not None:
        entry["codec_name"] = name
    if context is not None:
        if kind == "video":
            entry["width"] = context.width
            entry["height"] = context.height
        elif kind == "subtitle":
            width, height = getattr(context, "width", 0), getattr(context, "height", 0)
            if width:
                entry["width"] = width
            if height:
                entry["height"] = height
        elif kind == "audio":
            entry["channels"] = getattr(context, "channels", None)
    language = (getattr(stream, "metadata", None) or {}).get("language")
    if language:
        entry["tags"] = {"language": language}
    return entry


def describe_container(container: Any) -> dict[str, Any]:
    """An opened container as ffprobe's JSON object: {"format": {...}, "streams": [...]}."""
    fmt: dict[str, Any] = {"format_name": container.format.name}
    duration = format_duration(container.duration)
    if duration is not None:
        fmt["duration"] = duration
    return {"format": fmt, "streams": [describe_stream(s) for s in container.streams]}


def probe_path(path: str) -> dict[str, Any]:
    """Open `path` with PyAV and describe it; FFmpeg's errors propagate (av.error.FFmpegError).

    Opening reads the header and runs FFmpeg's stream-info search, the same work ffprobe does
    before it prints; no packet is decoded beyond that.
    """
    import av  # imported by the worker process only (see the module docstring)

    with av.open(path, mode="r") as container:
        return describe_container(container)


def error_reason(exc: BaseException) -> str:
    """FFmpeg's words for a failure ("Invalid data found when processing input").

    That is the text ffprobe prints after the path on its last stderr line, so both probers give
    the same message. PyAV's str() adds the errno and the path; the path is stored beside the
    error already.
    """
    reason = getattr(exc, "strerror", None)
    if isinstance(reason, str) and reason:
        return reason
    return str(exc) or type(exc).__name__
