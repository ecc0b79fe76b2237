"""Shot boundaries with PySceneDetect's detectors, fed one frame at a time.

PySceneDetect's detectors are online: ``process_frame(frame_num, image)`` takes frames in order and
returns the cuts it is sure of. `ShotBoundaryDetector` drives two of them over the frames a
caller decodes (at reduced size, bounded memory; any subset in order, as the adaptive sampler
gives):

- a cut detector, ``content`` (`scenedetect.ContentDetector`: a weighted HSV difference of
  consecutive frames above ``threshold``) or ``adaptive`` (`scenedetect.AdaptiveDetector`: the
  same score against the average of its neighbours, ``adaptive_threshold``, which copes with fast
  camera motion);
- with ``fades: true``, a fade detector (`scenedetect.ThresholdDetector`: mean intensity crossing
  ``fade_threshold``, cut placed in the middle of the dark gap), which finds the fades through
  black that the cut detectors miss (a slow fade changes little from frame to frame) or see as a
  stray cut somewhere in the dark part.

Cuts of both detectors closer than ``merge_gap`` frames are one transition: the fade detector's
cut wins where it has one, else the earliest. A boundary is the index of the first frame of the
new shot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from vidlab.errors import UserError

log = logging.getLogger(__name__)

CUT_DETECTORS = ("content", "adaptive")


@dataclass(frozen=True)
class ShotSettings:
    """Options of `ShotBoundaryDetector` (the ``shots`` config group of ``task=summarize``).

    Attributes:
        detector: ``content`` or ``adaptive`` (see the module docstring).
        threshold: ContentDetector's threshold on its frame score (0-255 scale; PySceneDetect's
            default 27).
        adaptive_threshold: AdaptiveDetector's ratio of a frame's score to its neighbours'.
        min_content_val: AdaptiveDetector's floor on the frame score itself.
        window_width: AdaptiveDetector's neighbours on each side.
        min_scene_len: frames a shot lasts at least (PySceneDetect's filter).
        fades: also detect fades through black.
        fade_threshold: mean 8-bit intensity below which a frame is "black".
        merge_gap: cuts closer than this many frames are one transition.
        luma_only: score brightness changes only.
    """

    detector: str = "content"
    threshold: float = 27.0
    adaptive_threshold: float = 3.0
    min_content_val: float = 15.0
    window_width: int = 2
    min_scene_len: int = 8
    fades: bool = True
    fade_threshold: float = 12.0
    merge_gap: int = 8
    luma_only: bool = False

    def __post_init__(self) -> None:
        if self.detector not in CUT_DETECTORS:
            raise UserError(f"shots.detector={self.detector!r}: expected one of {CUT_DETECTORS}")


@dataclass(frozen=True)
class Boundary:
    """One detected transition: ``frame`` is the first frame of the new shot; ``kind`` is ``cut``
    (the cut detector alone) or ``fade`` (the fade detector found it)."""

    frame: int
    kind: str


class ShotBoundaryDetector:
    """Online shot-boundary detection over frames pushed in order (see the module docstring)."""

    def __init__(self, settings: ShotSettings | None = None) -> None:
        from scenedetect.detectors import AdaptiveDetector, ContentDetector, ThresholdDetector

        self.settings = s = settings or ShotSettings()
        if s.detector == "content":
            self._cut = ContentDetector(
                threshold=s.threshold, min_scene_len=s.min_scene_len, luma_only=s.luma_only
            )
        else:
            self._cut = AdaptiveDetector(
                adaptive_threshold=s.adaptive_threshold,
                min_scene_len=s.min_scene_len,
                window_width=s.window_width,
                min_content_val=s.min_content_val,
                luma_only=s.luma_only,
            )
        self._fade = (
            ThresholdDetector(threshold=s.fade_threshold, min_scene_len=s.min_scene_len)
            if s.fades
            else None
        )
        self._cuts: list[int] = []
        self._fade_cuts: list[int] = []
        self._last = -1

    def push(self, index: int, image_bgr: np.ndarray) -> None:
        """Feed frame `index` ((H, W, 3) uint8 BGR); indices must increase."""
        if index <= self._last:
            raise ValueError(f"frame {index} pushed after frame {self._last}: order must increase")
        self._last = index
        self._cuts += self._cut.process_frame(index, image_bgr)
        if self._fade is not None:
            self._fade_cuts += self._fade.process_frame(index, image_bgr)

    def finish(self) -> list[Boundary]:
        """Flush the detectors and return the merged boundaries, ascending."""
        if self._last >= 0:
            self._cuts += self._cut.post_process(self._last)
            if self._fade is not None:
                self._fade_cuts += self._fade.post_process(self._last)
        return merge_boundaries(self._cuts, self._fade_cuts, self.settings.merge_gap)


def merge_boundaries(cuts: list[int], fade_cuts: list[int], merge_gap: int) -> list[Boundary]:
    """One boundary per group of cuts closer than `merge_gap` frames; a fade cut wins its group,
    else the group's earliest cut. Boundaries at frame 0 are dropped."""
    tagged = sorted([(c, "cut") for c in cuts] + [(c, "fade") for c in fade_cuts])
    groups: list[list[tuple[int, str]]] = []
    for item in tagged:
        if item[0] <= 0:
            continue
        if groups and item[0] - groups[-1][-1][0] < merge_gap:
            groups[-1].append(item)
        else:
            groups.append([item])
    out = []
    for group in groups:
        fades = [f for f, kind in group if kind == "fade"]
        out.append(Boundary(fades[0], "fade") if fades else Boundary(group[0][0], "cut"))
    return out


def shot_ranges(boundaries: list[int], num_frames: int) -> list[tuple[int, int]]:
    """Shots as ``[start, end)`` frame ranges from the sorted first frames of new shots."""
    edges = [0, *[b for b in boundaries if 0 < b < num_frames], num_frames]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def detect_shots(
    path: str, settings: ShotSettings | None = None, *, max_side: int | None = 320
) -> tuple[list[Boundary], int]:
    """Every frame of `path` (decoded at reduced size) through a `ShotBoundaryDetector`; returns
    the boundaries and the number of frames."""
    from vidlab.data.io.stream import iter_frames

    detector, count = ShotBoundaryDetector(settings), 0
    for index, _t, image in iter_frames(path, max_side=max_side, fmt="bgr24"):
        detector.push(index, image)
        count = index + 1
    return detector.finish(), count
