"""The two probers give the same record: PyAV in the worker pool and the ffprobe fallback.

Real clips made with the system ffmpeg (tests/support/media.py), probed by the system ffprobe and
by PyAV (with the FFmpeg its wheel bundles) through real worker processes. Each file must come
out as the same ProbeResult, or as the same kind of error with the same words.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.media import MediaCache, encode_probe_clips
from vpo.probe_av import describe_container, format_duration, probe_path
from vpo.probe_pool import ProbePool
from vpo.scan import (
    ProbeError,
    ProbeRejected,
    ProbeResult,
    _AvProber,
    probe_file,
    probe_result_from_dict,
)
from vpo.store import ScannedStream


@pytest.fixture(scope="session")
def probe_clips(tmp_path_factory: pytest.TempPathFactory, media_cache: MediaCache):
    return encode_probe_clips(tmp_path_factory.mktemp("probe-clips"), media_cache)


def with_ffprobe(path: Path) -> ProbeResult | ProbeError:
    try:
        return probe_file(str(path), "ffprobe", 30, threading.Event())
    except ProbeError as exc:
        return exc


def with_av_pool(paths: list[Path]) -> dict[Path, ProbeResult | ProbeError]:
    """Each path through a real pool of two workers, as a scan sends them."""
    answers: dict[Path, ProbeResult | ProbeError] = {}
    with ProbePool(2, 30) as pool:
        waiting = list(paths)
        while waiting or pool.busy:
            while waiting and pool.has_room():
                path = waiting.pop()
                pool.submit(str(path), path)
            for path, outcome in pool.wait(1.0):
                answers[path] = _AvProber.answer(outcome)
    return answers


def test_both_probers_give_the_same_record_or_the_same_error(probe_clips):
    by_av = with_av_pool(list(probe_clips.values()))
    for name, path in probe_clips.items():
        ffprobe_says, av_says = with_ffprobe(path), by_av[path]
        if isinstance(ffprobe_says, ProbeError):
            assert type(av_says) is type(ffprobe_says), (name, ffprobe_says, av_says)
            assert str(av_says) == str(ffprobe_says), name
        else:
            assert av_says == ffprobe_says, name


def test_the_clips_cover_what_the_parity_test_claims(probe_clips):
    """The parity above is only worth what the clips hold: pin their content."""
    by_av = with_av_pool(list(probe_clips.values()))
    languages = [s.language for s in by_av[probe_clips["h264-aac-eng-jpn.mkv"]].streams]
    assert languages == [None, "eng", "jpn"]
    webm = by_av[probe_clips["vp9-opus.webm"]]
    assert [(s.codec_name, s.channels) for s in webm.streams] == [("vp9", None), ("opus", 2)]
    subtitle = by_av[probe_clips["h264-subrip-ger.mkv"]].streams[1]
    assert (subtitle.codec_type, subtitle.codec_name, subtitle.language) == (
        "subtitle",
        "subrip",
        "ger",
    )
    audio_only = by_av[probe_clips["vorbis-stereo-audio-only.mka"]]
    assert [(s.codec_type, s.channels) for s in audio_only.streams] == [("audio", 2)]
    attachment = by_av[probe_clips["h264-with-attachment.mkv"]].streams[-1]
    assert attachment.codec_type == "attachment"
    assert by_av[probe_clips["truncated-body.mkv"]].streams  # its header survived the cut
    for broken in ("zero-length.mkv", "truncated-header.mp4", "junk.mkv"):
        assert isinstance(by_av[probe_clips[broken]], ProbeRejected), broken
        assert str(by_av[probe_clips[broken]]) == (
            "probe failed: Invalid data found when processing input"
        )


def test_a_missing_file_is_the_same_rejection_from_both(tmp_path):
    gone = tmp_path / "gone.mkv"
    by_av = with_av_pool([gone])[gone]
    assert isinstance(by_av, ProbeRejected)
    assert str(by_av) == str(with_ffprobe(gone)) == "probe failed: No such file or directory"


# -- the mapping alone, without processes ------------------------------------------------------


def stream(index, kind, context=None, language=None):
    metadata = {"language": language} if language else {}
    return SimpleNamespace(index=index, type=kind, codec_context=context, metadata=metadata)


def context(name, **fields):
    return SimpleNamespace(codec=SimpleNamespace(canonical_name=name), **fields)


def test_mapping_follows_ffprobe_field_by_field():
    container = SimpleNamespace(
        format=SimpleNamespace(name="matroska,webm"),
        duration=1_023_000,
        streams=[
            stream(0, "video", context("h264", width=1920, height=1080)),
            stream(1, "audio", context("aac", channels=6), language="eng"),
            stream(2, "subtitle", context("subrip", width=0, height=0), language="ger"),
            stream(3, "subtitle", context("hdmv_pgs_subtitle", width=1920, height=1080)),
            stream(4, "attachment"),  # no decoder: no codec context, no name guessed
        ],
    )
    described = describe_container(container)
    assert described["format"] == {"format_name": "matroska,webm", "duration": "1.023000"}
    assert probe_result_from_dict(described) == ProbeResult(
        container="matroska,webm",
        duration=1.023,
        streams=[
            ScannedStream(0, "video", "h264", None, None, 1920, 1080),
            ScannedStream(1, "audio", "aac", "eng", 6, None, None),
            ScannedStream(2, "subtitle", "subrip", "ger", None, None, None),
            ScannedStream(3, "subtitle", "hdmv_pgs_subtitle", None, None, 1920, 1080),
            ScannedStream(4, "attachment", None, None, None, None, None),
        ],
    )


def test_an_unknown_duration_stays_unknown_and_durations_match_ffprobe_text():
    assert format_duration(None) is None
    # ffprobe prints duration * 1e-6 with "%f"; whole microseconds give the same text.
    assert format_duration(1) == "0.000001"
    assert format_duration(7_200_000_001) == "7200.000001"
    container = SimpleNamespace(format=SimpleNamespace(name="avi"), duration=None, streams=[])
    assert probe_result_from_dict(describe_container(container)).duration is None


def test_probe_path_reads_a_real_clip_in_process(probe_clips):
    described = probe_path(str(probe_clips["h264-aac-fra.mp4"]))
    assert described["format"]["format_name"] == "mov,mp4,m4a,3gp,3g2,mj2"
    assert [s["tags"]["language"] for s in described["streams"]] == ["und", "fra"]
