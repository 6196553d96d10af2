"""Small real videos for tests, made with ffmpeg once per test session.

Tests scan real files with the real ffprobe, so the fixtures must be genuine containers with known
streams. Encoding costs a fraction of a second per file, so each kind is encoded once into a
session cache and copied into every test's library (copies are cheap and each test owns its files).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class VideoKind:
    """What a generated video contains, so tests can assert what ffprobe must have found."""

    suffix: str
    duration: int
    width: int
    height: int
    audio_languages: tuple[str, ...]


# 64x48 pictures at 5 frames a second with mono sine audio: a few KiB each, fast to encode.
VIDEO_KINDS: dict[str, VideoKind] = {
    "mkv_eng": VideoKind(".mkv", 1, 64, 48, ("eng",)),
    "mkv_long": VideoKind(".mkv", 2, 64, 48, ("eng",)),
    "mp4_fra": VideoKind(".mp4", 1, 64, 48, ("fra",)),
    "mkv_eng_jpn": VideoKind(".mkv", 1, 64, 48, ("eng", "jpn")),
}


def encode_video(dest: Path, kind: VideoKind) -> Path:
    """Encode one video with ffmpeg (H.264 video plus one AAC track per language)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    picture = f"testsrc=duration={kind.duration}:size={kind.width}x{kind.height}:rate=5"
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", picture]
    for number in range(len(kind.audio_languages)):
        # Distinct tones so the tracks differ in content, not just in their tags.
        tone = f"sine=frequency={440 + 110 * number}:duration={kind.duration}"
        command += ["-f", "lavfi", "-i", tone]
    command += ["-map", "0:v"]
    for number in range(len(kind.audio_languages)):
        command += ["-map", f"{number + 1}:a"]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"]
    for number, language in enumerate(kind.audio_languages):
        command += [f"-metadata:s:a:{number}", f"language={language}"]
    command.append(str(dest))
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return dest


def write_corrupt_video(dest: Path, size: int = 8192, seed: int = 7) -> Path:
    """Random bytes under a video name: discovery accepts it, ffprobe rejects it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(random.Random(seed).randbytes(size))
    return dest


class MediaCache:
    """Encodes each video kind at most once and hands out copies."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._encoded: dict[str, Path] = {}

    def original(self, kind_name: str) -> Path:
        """The cached encoding of a kind (never hand this path to a test that modifies files)."""
        if kind_name not in self._encoded:
            kind = VIDEO_KINDS[kind_name]
            self._encoded[kind_name] = encode_video(
                self.cache_dir / f"{kind_name}{kind.suffix}", kind
            )
        return self._encoded[kind_name]

    def copy_to(self, kind_name: str, dest: Path) -> Path:
        """Copy a kind to `dest` (parents created); the copy gets a fresh mtime."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.original(kind_name), dest)
        return dest


@dataclass
class SampleLibrary:
    """A small library on disk: videos by relative path, plus the kind each one is."""

    root: Path
    videos: dict[str, Path] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)

    def path(self, relative: str) -> Path:
        return self.videos[relative]


# Relative path -> kind. Two top-level folders whose names share a prefix (tv, tv2) so scans of
# one must leave the other alone.
DEFAULT_LAYOUT: dict[str, str] = {
    "tv/Show/S01E01.mkv": "mkv_eng",
    "tv/Show/S01E02.mkv": "mkv_eng_jpn",
    "tv/Other Show/E01.mp4": "mp4_fra",
    "tv2/Extra/E01.mkv": "mkv_eng",
    "movies/Film (2020)/Film.mp4": "mp4_fra",
}


def build_library(
    root: Path, cache: MediaCache, layout: dict[str, str] | None = None
) -> SampleLibrary:
    """Lay out copies of cached videos under `root`, plus a non-video file scans must ignore."""
    library = SampleLibrary(root=root)
    for relative, kind_name in (layout or DEFAULT_LAYOUT).items():
        library.videos[relative] = cache.copy_to(kind_name, root / relative)
        library.kinds[relative] = kind_name
    (root / "README.txt").write_text("not a video\n")
    return library


def build_many(
    root: Path, cache: MediaCache, count: int, kind_name: str = "mkv_eng"
) -> SampleLibrary:
    """`count` videos under root/show, hard links of one encoding: a library big enough for a
    scan to still be running when a test acts on it, at almost no cost in time or space.

    The files share the cached original's inode: unlink one before writing a new one in its place.
    """
    library = SampleLibrary(root=root)
    original = cache.original(kind_name)
    (root / "show").mkdir(parents=True, exist_ok=True)
    for number in range(count):
        relative = f"show/E{number:03d}{VIDEO_KINDS[kind_name].suffix}"
        try:
            os.link(original, root / relative)
        except OSError:  # another file system: copy instead
            shutil.copyfile(original, root / relative)
        library.videos[relative] = root / relative
        library.kinds[relative] = kind_name
    return library


def fresh_scan_summary(files: int) -> dict:
    """The summary_raw of a first scan of `files` good videos: all new, nothing else."""
    return {
        "found": files,
        "scanned": files,
        "skipped": 0,
        "added": files,
        "removed": 0,
        "errors": 0,
        "probe_skipped": False,
    }


# -- clips for comparing the two probers (tests/unit/test_probe_parity.py) --------------------


def _ffmpeg(*args: str) -> None:
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", *args]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def _picture(seconds: int = 1) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=64x48:rate=5"]


def _tone(seconds: int = 1, channels: int = 1) -> list[str]:
    layout = "stereo" if channels == 2 else "mono"
    return ["-f", "lavfi", "-i", f"sine=duration={seconds},aformat=channel_layouts={layout}"]


def encode_probe_clips(folder: Path, cache: MediaCache) -> dict[str, Path]:
    """Files that cover what a prober meets: containers and codecs, audio languages, a subtitle
    stream, audio only, an attachment, and the broken kinds (empty, truncated, junk).

    Every file is made with the system ffmpeg, named by what it is.
    """
    folder.mkdir(parents=True, exist_ok=True)
    clips: dict[str, Path] = {}

    def make(name: str, *args: str) -> None:
        clips[name] = folder / name
        _ffmpeg(*args, str(clips[name]))

    clips["h264-aac-eng-jpn.mkv"] = shutil.copyfile(
        cache.original("mkv_eng_jpn"), folder / "h264-aac-eng-jpn.mkv"
    )
    clips["h264-aac-fra.mp4"] = shutil.copyfile(
        cache.original("mp4_fra"), folder / "h264-aac-fra.mp4"
    )
    make(
        "vp9-opus.webm",
        *_picture(),
        *_tone(channels=2),
        *("-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus", "-shortest"),
    )
    subtitles = folder / "subtitles.srt"
    subtitles.write_text("1\n00:00:00,000 --> 00:00:00,500\nhello\n")
    make(
        "h264-subrip-ger.mkv",
        *_picture(),
        *("-i", str(subtitles), "-c:v", "libx264", "-preset", "ultrafast", "-c:s", "srt"),
        *("-metadata:s:s:0", "language=ger"),
    )
    make("vorbis-stereo-audio-only.mka", *_tone(channels=2), "-c:a", "libvorbis")
    make("mpeg4-mp3.avi", *_picture(), *_tone(), "-c:v", "mpeg4", "-c:a", "libmp3lame")
    make(
        "h264-with-attachment.mkv",
        *("-i", str(clips["h264-aac-eng-jpn.mkv"]), "-attach", str(subtitles)),
        *("-metadata:s:t", "mimetype=text/plain", "-map", "0", "-c", "copy"),
    )
    clips["zero-length.mkv"] = folder / "zero-length.mkv"
    clips["zero-length.mkv"].write_bytes(b"")
    for name, source, keep in (
        ("truncated-header.mp4", "h264-aac-fra.mp4", 3000),
        ("truncated-body.mkv", "h264-aac-eng-jpn.mkv", 2000),
    ):
        clips[name] = folder / name
        clips[name].write_bytes(clips[source].read_bytes()[:keep])
    clips["junk.mkv"] = write_corrupt_video(folder / "junk.mkv")
    subtitles.unlink()
    return clips
