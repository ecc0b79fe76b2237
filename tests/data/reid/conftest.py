"""Fixtures for the Re-ID data tests: tiny Market-layout folders and tiny MOTChallenge sequences.

Market crops are 24 x 12 images whose colour encodes the identity (``pid_colour``). The MOT
sequences are 40 frames of 200 x 100 pixels: every track is a static coloured box (``track_colour``)
at its own place, so the crops a builder cuts can be checked by colour. ``TRACKS`` lists what each
track is for (kept, or dropped by which filter).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

MARKET_CROP_HW = (24, 12)


def pid_colour(pid: int) -> tuple[int, int, int]:
    """BGR colour of a tiny Market crop of identity ``pid`` (junk and distractors grey)."""
    if pid <= 0:
        return (90, 90, 90)
    return (int(37 * pid) % 256, int(255 - 23 * pid) % 256, 120)


@pytest.fixture
def market_folder(tmp_path: Path) -> Callable[..., Path]:
    """``build({"bounding_box_train": [names], ...}, extra={"query": ["Thumbs.db"]})`` writes
    the listed crops under ``tmp_path/market`` and returns that root."""

    def build(
        layout: dict[str, Sequence[str]], extra: dict[str, Sequence[str]] | None = None
    ) -> Path:
        root = tmp_path / "market"
        for folder, names in layout.items():
            (root / folder).mkdir(parents=True, exist_ok=True)
            for name in names:
                pid = int(name.split("_")[0]) if name.split("_")[0].lstrip("-").isdigit() else 0
                img = np.zeros((*MARKET_CROP_HW, 3), np.uint8)
                img[:] = pid_colour(pid)
                cv2.imwrite(str(root / folder / name), img)
        for folder, names in (extra or {}).items():
            for name in names:
                (root / folder / name).write_bytes(b"not an image")
        return root

    return build


def standard_market_layout() -> dict[str, list[str]]:
    """3 train ids (2-3 images each, plus junk), 2 query ids, a gallery with junk and distractors."""
    return {
        "bounding_box_train": [
            "0002_c1s1_000100_00.jpg",
            "0002_c2s1_000200_00.jpg",
            "0007_c1s1_000300_00.jpg",
            "0007_c3s1_000400_01.jpg",
            "0007_c3s1_000410_00.jpg",
            "0011_c2s1_000500_00.jpg",
            "0011_c4s2_000600_00.jpg",
            "-1_c1s1_000700_00.jpg",
        ],
        "query": ["0003_c1s1_001000_00.jpg", "0005_c2s1_001100_00.jpg"],
        "bounding_box_test": [
            "0003_c1s1_001010_00.jpg",
            "0003_c2s1_001200_00.jpg",
            "0005_c1s1_001300_00.jpg",
            "0005_c2s1_001400_00.jpg",
            "0000_c3s1_001500_00.jpg",
            "-1_c1s1_001600_00.jpg",
        ],
    }


# ------------------------------------------------------------------------------- tiny MOT


SEQ_LENGTH, IMAGE_W, IMAGE_H = 40, 200, 100
BOX_W, BOX_H, BOX_TOP = 14, 40, 30


@dataclass(frozen=True)
class TrackSpec:
    """A static box: id, class, consider flag, visibility, height, last frame (1-based)."""

    tid: int
    cls: int = 1
    consider: int = 1
    visibility: float = 1.0
    height: int = BOX_H
    last_frame: int = SEQ_LENGTH


TRACKS = (
    *(TrackSpec(t) for t in range(1, 7)),  # kept: six pedestrians seen all along
    TrackSpec(7, cls=7),  # static person: dropped (class)
    TrackSpec(8, consider=0),  # dropped (consider flag)
    TrackSpec(9, visibility=0.2),  # dropped (visibility)
    TrackSpec(10, height=10),  # dropped (too small)
    TrackSpec(11, last_frame=10),  # kept, but only seen in the first time span
)
KEPT_FULL = tuple(range(1, 7))
SHORT_TRACK = 11


def track_colour(tid: int) -> tuple[int, int, int]:
    """BGR colour of track ``tid``'s box."""
    return (20 * tid, 255 - 20 * tid, 60 + 10 * tid)


def track_x(tid: int) -> int:
    """Left edge of track ``tid``'s box (boxes never overlap)."""
    return 4 + 18 * (tid - 1)


def write_tiny_sequence(folder: Path, name: str, with_frames: bool = True) -> Path:
    """A MOTChallenge sequence folder with the TRACKS boxes (see the module docstring)."""
    seq = folder / name
    (seq / "gt").mkdir(parents=True)
    (seq / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate=10\nseqLength={SEQ_LENGTH}\n"
        f"imWidth={IMAGE_W}\nimHeight={IMAGE_H}\nimExt=.jpg\n"
    )
    rows = []
    for f in range(1, SEQ_LENGTH + 1):
        for t in TRACKS:
            if f <= t.last_frame:
                rows.append(
                    f"{f},{t.tid},{track_x(t.tid)},{BOX_TOP},{BOX_W},{t.height},"
                    f"{t.consider},{t.cls},{t.visibility}"
                )
    (seq / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    if with_frames:
        (seq / "img1").mkdir()
        for f in range(1, SEQ_LENGTH + 1):
            img = np.full((IMAGE_H, IMAGE_W, 3), 128, np.uint8)
            for t in TRACKS:
                if f <= t.last_frame:
                    x = track_x(t.tid)
                    img[BOX_TOP : BOX_TOP + t.height, x : x + BOX_W] = track_colour(t.tid)
            cv2.imwrite(str(seq / "img1" / f"{f:06d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return seq


@pytest.fixture
def tiny_mot(tmp_path: Path) -> Path:
    """``tmp_path/mot`` with two tiny sequences, SEQ-A and SEQ-B (identical content)."""
    root = tmp_path / "mot"
    for name in ("SEQ-A", "SEQ-B"):
        write_tiny_sequence(root, name)
    return root


@dataclass(frozen=True)
class ReIDFacts:
    """What the tests know about the fixtures' data (tests cannot import conftest)."""

    tracks: tuple[TrackSpec, ...] = TRACKS
    kept_full: tuple[int, ...] = KEPT_FULL
    short_track: int = SHORT_TRACK
    seq_length: int = SEQ_LENGTH
    box_hw: tuple[int, int] = (BOX_H, BOX_W)
    market_crop_hw: tuple[int, int] = MARKET_CROP_HW

    @staticmethod
    def track_colour(tid: int) -> tuple[int, int, int]:
        return track_colour(tid)

    @staticmethod
    def pid_colour(pid: int) -> tuple[int, int, int]:
        return pid_colour(pid)

    @staticmethod
    def market_layout() -> dict[str, list[str]]:
        return standard_market_layout()


@pytest.fixture(scope="session")
def facts() -> ReIDFacts:
    return ReIDFacts()
