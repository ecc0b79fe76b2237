"""Synthetic person detection: frames of the synthetic MOT generator as a COCO-format set.

Each split renders its own sequences with `vidlab.data.synthetic.mot` (train, val and test use
different seeds, so no person, background or occluder is shared between them) in a varied style
(`RenderStyle`: coloured cluttered backgrounds, brightness, blur, foreground occluders) and with a
per-sequence person scale, keeps every ``frame_stride``-th frame, and writes::

    <cache_dir>/<key>/<split>/images/SYN-01_000001.jpg ...
    <cache_dir>/<key>/<split>/annotations.json      COCO format, category 1 "person"

``<key>`` hashes every setting, so a changed setting builds a new set and an unchanged one is read
from the cache. Targets are the moving people (MOT class 1) with visibility (inside the image, not
hidden by closer people or occluders) >= ``min_visibility`` and height >= ``min_height``; static
people (class 7) and people below the visibility or height limits are ignore regions (``iscrowd``),
never negatives. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidlab.data.detection.coco import load_coco, write_coco
from vidlab.data.detection.records import DetectionRecord
from vidlab.data.synthetic.mot import (
    PEDESTRIAN_CLASS,
    RenderStyle,
    SceneConfig,
    generate_sequence,
    occluder_boxes,
    render_sequence_frames,
    visibility,
)

log = logging.getLogger(__name__)

#: Bump when the rendering or the annotation rules change (invalidates the caches).
FORMAT_VERSION = 1
ANNOTATIONS, IMAGES = "annotations.json", "images"
_SCALE_STREAM = 23


class SyntheticDetectionSource:
    """Builds (once) and reads the synthetic detection splits.

    Args:
        cache_dir: where generated sets are kept.
        splits: per split ``{"seed": int, "n_sequences": int}``; seeds must differ.
        num_frames: frames simulated per sequence.
        frame_stride: keep every n-th frame (consecutive frames are near-duplicates).
        width: frame width in pixels.
        height: frame height in pixels.
        initial_people: people in view at the first frame.
        entries_per_frame: mean number of people entering per frame.
        distractors: static people (class 7, ignore regions) per sequence.
        person_height: (min, max) box height at the bottom of the image as a fraction of the image
            height, before the per-sequence scale.
        scale_range: per-sequence factor on ``person_height`` (drawn uniformly).
        pan_every: every n-th sequence has a panning camera (0: none).
        style: `RenderStyle` fields.
        min_visibility: targets need at least this visible fraction; less is an ignore region.
        min_height: targets need at least this height in pixels; smaller is an ignore region.
        jpeg_quality: JPEG quality of the written frames.
    """

    def __init__(
        self,
        *,
        cache_dir: str | Path,
        splits: Mapping[str, Mapping[str, int]],
        num_frames: int = 200,
        frame_stride: int = 5,
        width: int = 480,
        height: int = 270,
        initial_people: int = 8,
        entries_per_frame: float = 0.05,
        distractors: int = 1,
        person_height: tuple[float, float] = (0.35, 0.5),
        scale_range: tuple[float, float] = (0.6, 1.3),
        pan_every: int = 3,
        style: Mapping[str, Any] | None = None,
        min_visibility: float = 0.3,
        min_height: float = 8.0,
        jpeg_quality: int = 90,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.splits = {
            str(k): {"seed": int(v["seed"]), "n_sequences": int(v["n_sequences"])}
            for k, v in splits.items()
        }
        seeds = [v["seed"] for v in self.splits.values()]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"synthetic_det splits must use different seeds, got {self.splits}")
        if frame_stride < 1 or num_frames < 1:
            raise ValueError(
                f"frame_stride={frame_stride} and num_frames={num_frames} must be >= 1"
            )
        self.frame_stride, self.jpeg_quality = int(frame_stride), int(jpeg_quality)
        self.scene = SceneConfig(
            num_frames=int(num_frames),
            width=int(width),
            height=int(height),
            initial_people=int(initial_people),
            entries_per_frame=float(entries_per_frame),
            distractors=int(distractors),
            person_height=(float(person_height[0]), float(person_height[1])),
        )
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.pan_every = int(pan_every)
        self.style = RenderStyle(**{k: _tuple(v) for k, v in dict(style or {}).items()})
        self.min_visibility, self.min_height = float(min_visibility), float(min_height)

    # -- public ----------------------------------------------------------------------------------

    def records(self, split: str) -> list[DetectionRecord]:
        """The records of `split` (built into the cache first if needed)."""
        folder = self.build(split)
        return load_coco(folder / ANNOTATIONS, folder / IMAGES, categories=["person"])

    def build(self, split: str) -> Path:
        """The cached folder of `split`, rendered now if absent."""
        if split not in self.splits:
            raise KeyError(
                f"synthetic_det has no split {split!r}; configured: {sorted(self.splits)}"
            )
        folder = self.cache_dir / self.key(split) / split
        if (folder / ANNOTATIONS).is_file():
            return folder
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / IMAGES).mkdir(parents=True)
        entries = []
        for k in range(1, self.splits[split]["n_sequences"] + 1):
            entries += self._render_sequence(split, k, tmp / IMAGES)
        write_coco(tmp / ANNOTATIONS, entries)
        (tmp / "settings.json").write_text(json.dumps(self.settings(split), indent=1))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
        log.info("synthetic_det %s: %d images written to %s", split, len(entries), folder)
        return folder

    def settings(self, split: str) -> dict[str, Any]:
        """Everything that determines the rendered split (hashed into its cache key)."""
        return {
            "version": FORMAT_VERSION,
            "split": self.splits[split],
            "scene": asdict(self.scene),
            "style": asdict(self.style),
            "scale_range": self.scale_range,
            "pan_every": self.pan_every,
            "frame_stride": self.frame_stride,
            "min_visibility": self.min_visibility,
            "min_height": self.min_height,
            "jpeg_quality": self.jpeg_quality,
        }

    def key(self, split: str) -> str:
        payload = json.dumps(self.settings(split), sort_keys=True, default=list)
        return hashlib.sha1(payload.encode()).hexdigest()[:12]

    def describe(self) -> dict[str, Any]:
        return {
            "name": "synthetic_det",
            "cache_dir": str(self.cache_dir),
            "splits": {s: {**v, "key": self.key(s)} for s, v in self.splits.items()},
        }

    # -- rendering -------------------------------------------------------------------------------

    def _scene(self, seed: int, k: int) -> SceneConfig:
        rng = np.random.default_rng([seed, k, _SCALE_STREAM])
        factor = rng.uniform(*self.scale_range)
        lo, hi = self.scene.person_height
        cfg = replace(self.scene, person_height=(lo * factor, hi * factor))
        if self.pan_every and k % self.pan_every == 0:
            cfg = replace(cfg, camera_pan=(float(rng.choice([-1.5, 1.5])), 0.0))
        return cfg

    def _render_sequence(self, split: str, k: int, image_dir: Path) -> list[dict[str, Any]]:
        seed = self.splits[split]["seed"]
        name = f"SYN-{k:02d}"
        seq = generate_sequence(seed * 1000 + k, self._scene(seed, k), name=name)
        occluders = occluder_boxes(seq, self.style)
        bounds = np.searchsorted(seq.gt_frame, np.arange(1, seq.config.num_frames + 2))
        quality = [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality]
        entries = []
        for f, image in render_sequence_frames(seq, self.style):
            if (f - 1) % self.frame_stride:
                continue
            lo, hi = bounds[f - 1], bounds[f]
            shift = np.tile(seq.camera_offset[f - 1] - seq.camera_offset[0], 2)
            boxes, ignore, extra = self._annotate(seq, lo, hi, occluders - shift)
            file_name = f"{name}_{f:06d}.jpg"
            cv2.imwrite(str(image_dir / file_name), image, quality)
            entries.append(
                {
                    "file_name": file_name,
                    "width": seq.config.width,
                    "height": seq.config.height,
                    "boxes": boxes,
                    "ignore": ignore,
                    "extra": extra,
                }
            )
        return entries

    def _annotate(
        self, seq: Any, lo: int, hi: int, occluders: np.ndarray
    ) -> tuple[list, list, list]:
        """Targets, ignore regions and per-target extras of one frame's ground-truth rows."""
        cfg = seq.config
        tlwh = seq.gt_tlwh[lo:hi]
        vis = visibility(tlwh, cfg.width, cfg.height, occluders)
        x1 = np.clip(tlwh[:, 0], 0, cfg.width)
        y1 = np.clip(tlwh[:, 1], 0, cfg.height)
        x2 = np.clip(tlwh[:, 0] + tlwh[:, 2], 0, cfg.width)
        y2 = np.clip(tlwh[:, 1] + tlwh[:, 3], 0, cfg.height)
        boxes, ignore, extra = [], [], []
        for i in range(len(tlwh)):
            if vis[i] <= 0 or x2[i] - x1[i] < 1 or y2[i] - y1[i] < 1:
                continue  # nothing of it is in view
            box = [float(x1[i]), float(y1[i]), float(x2[i]), float(y2[i])]
            target = (
                seq.gt_class[lo + i] == PEDESTRIAN_CLASS
                and vis[i] >= self.min_visibility
                and tlwh[i, 3] >= self.min_height
            )
            if target:
                boxes.append(box)
                extra.append(
                    {"visibility": round(float(vis[i]), 4), "track_id": int(seq.gt_id[lo + i])}
                )
            else:
                ignore.append(box)
        return boxes, ignore, extra


def _tuple(value: Any) -> Any:
    """Lists from configs as tuples (hashable, as the dataclass defaults)."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ListConfig":
        return tuple(_tuple(v) for v in value)
    return value
