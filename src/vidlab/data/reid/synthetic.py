"""The synthetic Re-ID default: synthetic MOT sequences with sprite frames, cut by the crop builder.

The sequences come from :mod:`vidlab.data.synthetic.mot` (``write_mot_folder(render_frames=True)``):
each identity is drawn with its own colours and shirt pattern (``draw_person_sprite``), walks
across a textured background, changes size with depth and is partly hidden by people in front.
The very same :func:`~vidlab.data.reid.crops.build_reid_from_mot` used on MOTChallenge data then
writes the Market layout. Everything is keyed by a hash of the settings under ``cache_dir`` and
built once::

    <cache_dir>/<key>/mot/SYN-01/...      the generated sequences (frames kept only if asked)
    <cache_dir>/<key>/market/             bounding_box_train/, query/, bounding_box_test/

Sprites have flat, saturated identity colours, so raw colour statistics alone would retrieve
almost every query (rank-1 about 0.98 with the mean colours of the upper and lower halves). To make
the set a test of learned features, each pseudo-camera of each sequence can get its own colour
cast (``camera_colour_jitter``: per-channel gains drawn in ``[1 - j, 1 + j]``), as real cameras
differ in white balance and exposure; queries and their matches always come from different
pseudo-cameras.

Use a different ``seed`` than the tracking data (``data=synthetic_mot`` uses seed 0) so that the
identities a Re-ID model trains on are not the ones it later tracks.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vidlab.data.reid.crops import MANIFEST, CropSettings, build_reid_from_mot
from vidlab.data.synthetic.mot import IMAGE_DIR, SceneConfig, write_mot_folder
from vidlab.utils.cache import cache_key, cached_folder, is_complete

log = logging.getLogger(__name__)

MOT_DIR, MARKET_DIR = "mot", "market"
_COLOUR_STREAM = 17  # random stream of the camera colour casts (independent of the scene)
_UINT8_MAX = 255.0


class SyntheticReIDBuilder:
    """Generates synthetic sequences with frames and cuts them into a Market-layout Re-ID set.

    Args:
        cache_dir: where generated sets are kept (one sub-folder per settings hash).
        n_sequences: synthetic sequences (``SYN-01``...).
        seed: generation seed (sequence k uses ``seed * 1000 + k``).
        num_frames: frames per sequence.
        width: frame width in pixels.
        height: frame height in pixels.
        initial_people: people in view at frame 1.
        entries_per_frame: mean number of people entering per frame (more identities).
        pan_every: every ``pan_every``-th sequence has a panning camera (0: none).
        keep_frames: keep the rendered ``img1/`` frames after cropping (disk space).
        camera_colour_jitter: ``j`` of the per-pseudo-camera channel gains in ``[1 - j, 1 + j]``
            (0: no colour cast).
        crops: :class:`~vidlab.data.reid.crops.CropSettings` fields.
    """

    def __init__(
        self,
        *,
        cache_dir: str | Path,
        n_sequences: int = 5,
        seed: int = 100,
        num_frames: int = 300,
        width: int = 640,
        height: int = 360,
        initial_people: int = 10,
        entries_per_frame: float = 0.12,
        pan_every: int = 0,
        keep_frames: bool = False,
        camera_colour_jitter: float = 0.0,
        crops: Mapping[str, Any] | CropSettings | None = None,
    ) -> None:
        if n_sequences < 1:
            raise ValueError(f"n_sequences={n_sequences}, expected >= 1")
        self.cache_dir = Path(cache_dir)
        self.n_sequences, self.seed, self.pan_every = n_sequences, seed, pan_every
        self.keep_frames = keep_frames
        if not 0.0 <= camera_colour_jitter < 1.0:
            raise ValueError(f"camera_colour_jitter={camera_colour_jitter}, expected [0, 1)")
        self.camera_colour_jitter = camera_colour_jitter
        self.scene = SceneConfig(
            num_frames=num_frames,
            width=width,
            height=height,
            initial_people=initial_people,
            entries_per_frame=entries_per_frame,
            distractors=0,
        )
        self.settings = CropSettings.from_mapping(crops)

    @property
    def key(self) -> str:
        """Hash of every setting that changes the output (the cache folder name)."""
        names = ("num_frames", "width", "height", "initial_people", "entries_per_frame")
        payload = {k: getattr(self.scene, k) for k in names}
        payload |= {"n_sequences": self.n_sequences, "seed": self.seed, "pan_every": self.pan_every}
        if self.camera_colour_jitter > 0:  # absent when off: older caches stay valid
            payload["camera_colour_jitter"] = self.camera_colour_jitter
        return cache_key(payload | self.settings.as_dict())

    def camera_gains(self, seq_index: int, camid: int) -> np.ndarray:
        """(3,) BGR gains of one pseudo-camera, deterministic in the seed."""
        rng = np.random.default_rng([self.seed, seq_index, camid, _COLOUR_STREAM])
        j = self.camera_colour_jitter
        return rng.uniform(1.0 - j, 1.0 + j, 3)

    def _colour_cast(self, crop: np.ndarray, seq_index: int, camid: int) -> np.ndarray:
        gains = self.camera_gains(seq_index, camid)
        return np.clip(crop.astype(np.float32) * gains, 0, _UINT8_MAX).astype(np.uint8)

    def build(self) -> Path:
        """The Market-layout root, generated on first use."""
        base = self.cache_dir / self.key
        marker = f"{MARKET_DIR}/{MANIFEST}"
        if is_complete(base, marker):
            log.info("reusing synthetic Re-ID set %s", base / MARKET_DIR)
            return base / MARKET_DIR
        log.info("generating the synthetic Re-ID set into %s", base)
        return cached_folder(base, self._generate, marker=marker) / MARKET_DIR

    def _generate(self, base: Path) -> None:
        """Write the sequences into ``base/mot`` and cut them into ``base/market``."""
        dirs = write_mot_folder(
            base / MOT_DIR,
            self.n_sequences,
            self.seed,
            render_frames=True,
            config=self.scene,
            pan_every=self.pan_every,
        )
        hook = self._colour_cast if self.camera_colour_jitter > 0 else None
        build_reid_from_mot(dirs, base / MARKET_DIR, self.settings, crop_hook=hook)
        if not self.keep_frames:
            for d in dirs:
                shutil.rmtree(d / IMAGE_DIR, ignore_errors=True)
