"""Run a tracker over MOTChallenge sequence folders and write MOTChallenge results.

Reading and writing MOTChallenge files goes through :mod:`vidlab.evaluation.mot.io`; this module
only feeds frames of detections (plus images and appearance embeddings when the tracker needs them)
to a tracker and collects its output.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vidlab.evaluation.mot.io import MotTable, SeqInfo, read_mot_txt, read_seqinfo, write_mot_txt
from vidlab.tracking.encoders import AppearanceEncoder, EmbeddingCache
from vidlab.tracking.gmc import FileMotion, NoMotion
from vidlab.tracking.interpolation import interpolate_gaps
from vidlab.tracking.trackers.base import BaseTracker
from vidlab.tracking.types import Detections, tlwh_to_xyxy, xyxy_to_tlwh

log = logging.getLogger(__name__)

DET_FILE = Path("det") / "det.txt"
GT_FILE = Path("gt") / "gt.txt"


@dataclass(frozen=True)
class SequenceInput:
    """What a tracker needs from one sequence.

    Attributes:
        folder: the sequence folder.
        info: its ``seqinfo.ini``.
        detections: the detection rows (kind ``det``).
        image_dir: the folder of frames, or None when the sequence has none.
    """

    folder: Path
    info: SeqInfo
    detections: MotTable
    image_dir: Path | None

    @property
    def name(self) -> str:
        """The sequence's name: its folder's name (what evaluation and results files go by)."""
        return self.folder.name

    def frame_path(self, frame: int) -> Path:
        """Image file of a 1-based frame (MOTChallenge names: 000001.jpg, ...)."""
        if self.image_dir is None:
            raise FileNotFoundError(f"sequence {self.folder} has no {self.info.im_dir}/ frames")
        return self.image_dir / f"{frame:06d}{self.info.im_ext}"


@dataclass(frozen=True)
class SequenceResult:
    """A tracker's output on one sequence and the time its update loop took.

    Attributes:
        name: sequence name.
        results: the track rows (kind ``results``).
        update_seconds: wall time spent inside ``tracker.update`` (frame loading excluded).
        num_frames: frames processed.
    """

    name: str
    results: MotTable
    update_seconds: float
    num_frames: int


def load_sequence(folder: str | Path, detections_file: str | Path | None = None) -> SequenceInput:
    """Read a sequence folder; ``detections_file`` replaces its ``det/det.txt``."""
    folder = Path(folder)
    info = read_seqinfo(folder)
    det_path = Path(detections_file) if detections_file is not None else folder / DET_FILE
    if not det_path.is_file():
        raise FileNotFoundError(
            f"no detections for sequence {folder.name}: {det_path} does not exist"
        )
    dets = read_mot_txt(det_path, kind="det", num_frames=info.seq_length)
    image_dir = folder / info.im_dir
    has_frames = image_dir.is_dir() and (image_dir / f"{1:06d}{info.im_ext}").is_file()
    return SequenceInput(folder, info, dets, image_dir if has_frames else None)


def needs_frames(tracker: BaseTracker) -> bool:
    """Whether the tracker estimates camera motion from images."""
    cmc = getattr(tracker, "cmc", None)
    return cmc is not None and not isinstance(cmc, NoMotion | FileMotion)


def iter_frames(seq: SequenceInput) -> Iterator[np.ndarray | None]:
    """The BGR images of frames 1..seq_length (None for every frame if the sequence has none)."""
    for f in range(1, seq.info.seq_length + 1):
        if seq.image_dir is None:
            yield None
            continue
        image = cv2.imread(str(seq.frame_path(f)), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read frame {seq.frame_path(f)}")
        yield image


def sequence_embeddings(
    seq: SequenceInput, encoder: AppearanceEncoder, cache: EmbeddingCache | None
) -> np.ndarray:
    """(N, D) embeddings of every detection row of the sequence, from the cache when possible."""
    dets = seq.detections
    if cache is not None:
        hit = cache.load(encoder, seq.name, dets.frame, dets.tlwh)
        if hit is not None:
            return hit
    if seq.image_dir is None:
        raise FileNotFoundError(
            f"sequence {seq.name} has no frames in {seq.folder / seq.info.im_dir}; the tracker "
            "needs appearance embeddings (render synthetic frames or give detections with frames)"
        )
    bounds = np.searchsorted(dets.frame, np.arange(1, seq.info.seq_length + 2))
    parts = []
    for f, image in enumerate(iter_frames(seq), start=1):
        lo, hi = bounds[f - 1], bounds[f]
        if hi > lo:
            parts.append(encoder.encode(image, tlwh_to_xyxy(dets.tlwh[lo:hi])))
    emb = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
    if cache is not None:
        cache.save(encoder, seq.name, dets.frame, dets.tlwh, emb)
    return emb


def track_sequence(
    tracker: BaseTracker,
    seq: SequenceInput,
    *,
    cache: EmbeddingCache | None = None,
    interpolate_max_gap: int = 0,
) -> SequenceResult:
    """Run ``tracker`` (reset first) over every frame of ``seq``.

    Args:
        tracker: any tracker; its ``encoder`` (if it uses appearance) embeds the detections.
        seq: the sequence.
        cache: embedding cache (appearance trackers only).
        interpolate_max_gap: fill gaps of at most this many frames inside tracks (0: off).
    """
    tracker.reset()
    dets = seq.detections
    emb = None
    if tracker.uses_appearance and tracker.encoder is not None:
        emb = sequence_embeddings(seq, tracker.encoder, cache)
    frames = iter_frames(seq) if needs_frames(tracker) else None
    if frames is not None and seq.image_dir is None:
        log.warning("%s: no frames, so no image-based camera-motion compensation", seq.name)
    bounds = np.searchsorted(dets.frame, np.arange(1, seq.info.seq_length + 2))
    out_f, out_id, out_box, out_s = [], [], [], []
    elapsed = 0.0
    for f in range(1, seq.info.seq_length + 1):
        lo, hi = bounds[f - 1], bounds[f]
        d = Detections.from_tlwh(
            dets.tlwh[lo:hi], dets.score[lo:hi], None if emb is None else emb[lo:hi]
        )
        image = next(frames) if frames is not None else None
        start = time.perf_counter()
        tracks = tracker.update_tracks(d, image)
        elapsed += time.perf_counter() - start
        out_f.append(np.full(len(tracks), f, np.int64))
        out_id.append(tracks.track_id)
        out_box.append(xyxy_to_tlwh(tracks.xyxy))
        out_s.append(tracks.score)
    frame, ids, tlwh, score = (np.concatenate(x) for x in (out_f, out_id, out_box, out_s))
    tlwh = tlwh.reshape(-1, 4)
    if interpolate_max_gap > 0:
        frame, ids, tlwh, score = interpolate_gaps(frame, ids, tlwh, score, interpolate_max_gap)
    table = MotTable.from_arrays(frame, ids, tlwh, score)
    return SequenceResult(seq.name, table, elapsed, seq.info.seq_length)


def track_folder(
    make_tracker: Callable[[SeqInfo], BaseTracker],
    sequence_dirs: list[Path],
    out_dir: str | Path,
    *,
    detections_dir: str | Path | None = None,
    cache: EmbeddingCache | None = None,
    interpolate_max_gap: int = 0,
) -> list[SequenceResult]:
    """Track every sequence and write ``<out_dir>/<sequence>.txt`` in the MOTChallenge format.

    Args:
        make_tracker: builds a tracker for a sequence (e.g. to pass its frame rate).
        sequence_dirs: sequence folders.
        out_dir: results folder (created).
        detections_dir: optional folder of ``<sequence>.txt`` detection files that replace each
            sequence's ``det/det.txt``.
        cache: embedding cache for appearance trackers.
        interpolate_max_gap: see :func:`track_sequence`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for folder in sequence_dirs:
        det_file = (
            None if detections_dir is None else Path(detections_dir) / f"{Path(folder).name}.txt"
        )
        seq = load_sequence(folder, det_file)
        res = track_sequence(
            make_tracker(seq.info), seq, cache=cache, interpolate_max_gap=interpolate_max_gap
        )
        write_mot_txt(out_dir / f"{res.name}.txt", res.results)
        fps = res.num_frames / max(res.update_seconds, 1e-9)
        log.info(
            "%s: %d boxes, %d ids, %.0f fps",
            res.name,
            len(res.results),
            len(np.unique(res.results.track_id)),
            fps,
        )
        results.append(res)
    return results
