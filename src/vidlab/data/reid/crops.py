"""Build a Market-layout Re-ID set from MOTChallenge sequences with frames.

Each sequence folder holds ``seqinfo.ini``, ``gt/gt.txt`` and ``img1/<frame:06d>.jpg``. The builder

1. keeps ground-truth boxes of the wanted classes (pedestrians, MOT17 class 1) whose "consider"
   flag is set, with at least ``min_visibility`` and, after clipping to the image, at least
   ``min_height`` x ``min_width`` pixels, on every ``frame_stride``-th frame (frames 1, 1 + s, ...);
   a file without a class column (MOT15) counts as all pedestrians, one without visibility as
   fully visible;
2. names identities ``pid = seq_index * 10000 + track_id`` (``seq_index`` is the 1-based position
   of the sequence in the sorted list), so ids of different sequences never collide; the result
   is a plain integer (e.g. ``20017`` for track 17 of the second sequence) that fits the
   ``<pid>_c<cam>s<seq>_<frame>_<idx>.jpg`` pattern, whose parser accepts any number of digits;
3. cuts each sequence into ``num_time_spans`` equal time spans that act as pseudo-cameras
   ``c1..cK`` (the ``s<seq>`` field holds the sequence index);
4. splits identities (with at least ``min_images_per_id`` crops) into train and test by identity,
   a seeded random permutation: ``num_train_ids`` of them, or ``round(train_fraction * n)``;
5. for each test identity seen in at least two time spans takes one random crop as a query from
   every span where it has at least two crops and puts the rest in the gallery, so every query
   has matches in other pseudo-cameras (the Market protocol ignores same-camera matches); test crops closer than ``span_gap`` frames to a
   span boundary are dropped so that a query and its nearest gallery match are not adjacent frames;
6. writes the crops with OpenCV into ``bounding_box_train/``, ``query/`` and
   ``bounding_box_test/`` and a ``manifest.json`` with the settings and the split sizes.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm.auto import tqdm

from vidlab.data.reid.market import GALLERY_DIR, QUERY_DIR, SPLIT_DIRS, TRAIN_DIR
from vidlab.evaluation.mot.io import find_sequences, read_mot_txt, read_seqinfo
from vidlab.utils.cache import cache_key, cached_folder, is_complete
from vidlab.utils.runinfo import write_json

log = logging.getLogger(__name__)

PID_SEQUENCE_STRIDE = 10_000  # pid = seq_index * stride + track_id; track ids must be below it
PEDESTRIAN = 1  # MOT17 class "pedestrian"
MANIFEST = "manifest.json"
_UNKNOWN = -1  # class / visibility value of files without that column
_SPLIT_OF = {0: TRAIN_DIR, 1: QUERY_DIR, 2: GALLERY_DIR}
_TRAIN, _QUERY, _GALLERY, _DROPPED = 0, 1, 2, -1
#: ``hook(crop_bgr (h, w, 3) uint8, seq_index, camid) -> crop_bgr``, applied before writing.
CropHook = Callable[[np.ndarray, int, int], np.ndarray]


@dataclass(frozen=True)
class CropSettings:
    """How crops are selected and split (see the module docstring for the procedure).

    Attributes:
        classes: ground-truth classes kept (MOT17: 1 pedestrian).
        min_visibility: minimum visibility ratio in [0, 1].
        min_height: minimum clipped box height in pixels.
        min_width: minimum clipped box width in pixels.
        frame_stride: keep frames 1, 1 + stride, ...
        num_time_spans: pseudo-cameras per sequence (>= 2 for queries to have matches).
        span_gap: test crops within this many frames of a span boundary are dropped.
        train_fraction: share of identities used for training (when ``num_train_ids`` is None).
        num_train_ids: exact number of training identities (overrides ``train_fraction``).
        min_images_per_id: identities with fewer crops are left out.
        seed: seed of the identity split and the query choice.
        crop_size: (height, width) to resize crops to when writing; None keeps the box size.
        jpeg_quality: JPEG quality of the written crops (0..100).
    """

    classes: tuple[int, ...] = (PEDESTRIAN,)
    min_visibility: float = 0.5
    min_height: int = 48
    min_width: int = 16
    frame_stride: int = 5
    num_time_spans: int = 3
    span_gap: int = 0
    train_fraction: float = 0.5
    num_train_ids: int | None = None
    min_images_per_id: int = 2
    seed: int = 0
    crop_size: tuple[int, int] | None = None
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        if self.frame_stride < 1 or self.num_time_spans < 1 or self.min_images_per_id < 1:
            raise ValueError(
                f"frame_stride={self.frame_stride}, num_time_spans={self.num_time_spans} and "
                f"min_images_per_id={self.min_images_per_id} must all be >= 1"
            )
        if not 0.0 < self.train_fraction < 1.0:
            raise ValueError(f"train_fraction={self.train_fraction}, expected a value in (0, 1)")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | CropSettings | None) -> CropSettings:
        """Settings from a plain mapping (e.g. a Hydra config node); lists become tuples."""
        if values is None:
            return cls()
        if isinstance(values, CropSettings):
            return values
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise TypeError(f"unknown crop settings {sorted(unknown)}; expected {sorted(known)}")
        return cls(
            **{
                k: tuple(v) if isinstance(v, Sequence) and not isinstance(v, str) else v
                for k, v in dict(values).items()
            }
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class BuildSummary:
    """What the builder wrote.

    Attributes:
        root: the Market-layout folder.
        sequences: sequence names, in ``seq_index`` order (1-based).
        splits: ``{"train"|"query"|"gallery": {"ids": int, "images": int}}``.
        skipped_test_ids: test identities that give no query (one span only, or one crop per span).
    """

    root: Path
    sequences: tuple[str, ...]
    splits: dict[str, dict[str, int]]
    skipped_test_ids: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "sequences": list(self.sequences),
            "splits": self.splits,
            "skipped_test_ids": self.skipped_test_ids,
        }


@dataclass(frozen=True)
class _Rows:
    """Selected boxes of all sequences: parallel (N,) arrays and (N, 4) int xyxy boxes."""

    seq: np.ndarray
    frame: np.ndarray
    pid: np.ndarray
    cam: np.ndarray
    xyxy: np.ndarray
    boundary_dist: np.ndarray  # frames to the nearest span boundary (large when none)


def _span_layout(frames: np.ndarray, length: int, spans: int) -> tuple[np.ndarray, np.ndarray]:
    """1-based pseudo-camera of each frame and its distance to the nearest span boundary."""
    cam = np.minimum((frames - 1) * spans // length, spans - 1) + 1
    starts = 1 + np.ceil(np.arange(1, spans) * length / spans).astype(np.int64)  # first frames
    if len(starts) == 0:
        return cam, np.full(len(frames), np.iinfo(np.int64).max // 2)
    # A boundary lies between start - 1 and start: frame start - 1 and start are both 0.5 away.
    dist = np.abs(frames[:, None] - (starts[None, :] - 0.5)).min(1) - 0.5
    return cam, dist.astype(np.int64)


def _select_sequence(seq_dir: Path, seq_index: int, s: CropSettings) -> _Rows:
    """The boxes of one sequence that pass the class, visibility, size and stride filters."""
    info = read_seqinfo(seq_dir)
    gt = read_mot_txt(seq_dir / "gt" / "gt.txt", kind="gt", num_frames=info.seq_length)
    keep = gt.score > 0
    keep &= np.isin(gt.class_id, s.classes) | (gt.class_id == _UNKNOWN)
    keep &= (gt.visibility >= s.min_visibility) | (gt.visibility == _UNKNOWN)
    keep &= (gt.frame - 1) % s.frame_stride == 0
    x1y1 = np.clip(np.round(gt.tlwh[:, :2]), 0, [info.im_width, info.im_height])
    x2y2 = np.clip(np.round(gt.tlwh[:, :2] + gt.tlwh[:, 2:]), 0, [info.im_width, info.im_height])
    wh = x2y2 - x1y1
    keep &= (wh[:, 0] >= s.min_width) & (wh[:, 1] >= s.min_height)
    too_big = keep & (gt.track_id >= PID_SEQUENCE_STRIDE)
    if too_big.any():
        raise ValueError(
            f"{seq_dir / 'gt' / 'gt.txt'}: track id {int(gt.track_id[too_big][0])} >= "
            f"{PID_SEQUENCE_STRIDE}, expected smaller ids (pid = seq_index * "
            f"{PID_SEQUENCE_STRIDE} + track id)"
        )
    frame = gt.frame[keep]
    cam, dist = _span_layout(frame, info.seq_length, s.num_time_spans)
    return _Rows(
        seq=np.full(len(frame), seq_index, np.int64),
        frame=frame,
        pid=seq_index * PID_SEQUENCE_STRIDE + gt.track_id[keep],
        cam=cam,
        xyxy=np.concatenate([x1y1, x2y2], axis=1)[keep].astype(np.int64),
        boundary_dist=dist,
    )


def _split_ids(pids: np.ndarray, s: CropSettings) -> np.ndarray:
    """The training identities (sorted), drawn by a seeded permutation of the eligible ids."""
    unique, counts = np.unique(pids, return_counts=True)
    eligible = unique[counts >= s.min_images_per_id]
    n = len(eligible)
    n_train = s.num_train_ids if s.num_train_ids is not None else int(round(s.train_fraction * n))
    if not 1 <= n_train < n:
        raise ValueError(
            f"{n} identities have >= {s.min_images_per_id} crops; cannot take {n_train} for "
            "training and keep at least one for testing (lower num_train_ids/train_fraction or "
            "relax the crop filters)"
        )
    perm = np.random.default_rng([s.seed, 0]).permutation(n)
    return np.sort(eligible[perm[:n_train]])


def _assign(rows: _Rows, train_ids: np.ndarray, s: CropSettings) -> tuple[np.ndarray, int]:
    """Split code of each row (train / query / gallery / dropped) and the no-query test ids."""
    split = np.full(len(rows.pid), _DROPPED, np.int64)
    counts = dict(zip(*np.unique(rows.pid, return_counts=True), strict=True))
    eligible = np.array([counts[p] >= s.min_images_per_id for p in rows.pid.tolist()], bool)
    is_train = np.isin(rows.pid, train_ids)
    split[is_train & eligible] = _TRAIN
    test = ~is_train & eligible & (rows.boundary_dist >= s.span_gap)
    split[test] = _GALLERY
    rng = np.random.default_rng([s.seed, 1])
    single_span = 0
    for pid in np.unique(rows.pid[test]).tolist():
        mine = np.flatnonzero(test & (rows.pid == pid))
        cams, per_cam = np.unique(rows.cam[mine], return_counts=True)
        # A span gives a query only if it keeps a gallery crop: then every span keeps one and
        # every query has a match in another pseudo-camera.
        query_cams = cams[per_cam >= 2]
        if len(cams) < 2 or len(query_cams) == 0:
            single_span += 1
            continue
        for cam in query_cams.tolist():
            split[rng.choice(mine[rows.cam[mine] == cam])] = _QUERY
    return split, single_span


def _file_name(pid: int, cam: int, seq: int, frame: int) -> str:
    return f"{pid:04d}_c{cam}s{seq}_{frame:06d}_00.jpg"


def _write_crops(
    seq_dirs: Sequence[Path],
    rows: _Rows,
    split: np.ndarray,
    out: Path,
    s: CropSettings,
    crop_hook: CropHook | None,
) -> None:
    """Read each needed frame once and write its crops into the split folders."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(s.jpeg_quality)]
    todo = np.flatnonzero(split != _DROPPED)
    order = todo[np.lexsort((rows.frame[todo], rows.seq[todo]))]
    keys = rows.seq[order] * (np.iinfo(np.int32).max + 1) + rows.frame[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    bounds = np.r_[starts, len(order)]
    infos = {k + 1: read_seqinfo(d) for k, d in enumerate(seq_dirs)}
    for a, b in tqdm(
        zip(bounds[:-1], bounds[1:], strict=True),
        total=len(starts),
        desc="Re-ID crops",
        unit="frame",
        leave=False,
    ):
        seq, frame = int(rows.seq[order[a]]), int(rows.frame[order[a]])
        info = infos[seq]
        path = seq_dirs[seq - 1] / info.im_dir / f"{frame:06d}{info.im_ext}"
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(
                f"{path}: frame {frame} of {info.name} is missing or unreadable"
            )
        for i in order[a:b].tolist():
            x1, y1, x2, y2 = rows.xyxy[i].tolist()
            crop = image[y1:y2, x1:x2]
            if s.crop_size is not None:
                crop = cv2.resize(
                    crop, (s.crop_size[1], s.crop_size[0]), interpolation=cv2.INTER_AREA
                )
            if crop_hook is not None:
                crop = crop_hook(crop, seq, int(rows.cam[i]))
            name = _file_name(int(rows.pid[i]), int(rows.cam[i]), seq, frame)
            cv2.imwrite(str(out / _SPLIT_OF[int(split[i])] / name), crop, params)


def _summarise(rows: _Rows, split: np.ndarray) -> dict[str, dict[str, int]]:
    out = {}
    for name, code in (("train", _TRAIN), ("query", _QUERY), ("gallery", _GALLERY)):
        sel = split == code
        out[name] = {"ids": int(len(np.unique(rows.pid[sel]))), "images": int(sel.sum())}
    return out


def _plan(dirs: Sequence[Path], s: CropSettings) -> tuple[_Rows, np.ndarray, int]:
    """Selected rows of all sequences, their split codes and the number of no-query test ids."""
    if not dirs:
        raise ValueError("no MOTChallenge sequence folders given")
    parts = [_select_sequence(d, k + 1, s) for k, d in enumerate(dirs)]
    rows = _Rows(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Rows)))
    split, single_span = _assign(rows, _split_ids(rows.pid, s), s)
    return rows, split, single_span


def plan_reid_from_mot(
    sequence_dirs: Sequence[str | Path], settings: CropSettings | None = None
) -> BuildSummary:
    """The split sizes :func:`build_reid_from_mot` would produce, without frames or writing.

    Needs only ``seqinfo.ini`` and ``gt/gt.txt``: use it to tune the filters before cutting.
    The returned summary's ``root`` is ``Path()``.
    """
    s = settings or CropSettings()
    dirs = [Path(d) for d in sequence_dirs]
    rows, split, single_span = _plan(dirs, s)
    names = tuple(read_seqinfo(d).name for d in dirs)
    return BuildSummary(Path(), names, _summarise(rows, split), single_span)


def build_reid_from_mot(
    sequence_dirs: Sequence[str | Path],
    out_root: str | Path,
    settings: CropSettings | None = None,
    *,
    crop_hook: CropHook | None = None,
) -> BuildSummary:
    """Write a Market-layout Re-ID set from MOTChallenge sequences with frames.

    Args:
        sequence_dirs: sequence folders; their order (sorted by the caller) sets ``seq_index``.
        out_root: output root; its three split folders are replaced.
        settings: selection and split settings (defaults: :class:`CropSettings`).
        crop_hook: optional ``hook(crop_bgr, seq_index, camid) -> crop_bgr`` applied to every
            crop before it is written (the synthetic builder's per-camera colour cast).

    Returns:
        The split sizes, also logged and written to ``out_root/manifest.json``.

    Raises:
        ValueError: no sequences, or too few identities for the requested split.
        FileNotFoundError: a missing ``seqinfo.ini``, ``gt.txt`` or frame image.
    """
    s = settings or CropSettings()
    dirs = [Path(d) for d in sequence_dirs]
    rows, split, single_span = _plan(dirs, s)
    out = Path(out_root)
    for name in SPLIT_DIRS.values():
        shutil.rmtree(out / name, ignore_errors=True)
        (out / name).mkdir(parents=True)
    _write_crops(dirs, rows, split, out, s, crop_hook)
    names = tuple(read_seqinfo(d).name for d in dirs)
    summary = BuildSummary(out, names, _summarise(rows, split), single_span)
    rule = f"seq_index * {PID_SEQUENCE_STRIDE} + track id"
    # The manifest describes the folder that holds it (no absolute path: cached sets are built
    # under a temporary name and then moved into place).
    described = {k: v for k, v in summary.as_dict().items() if k != "root"}
    write_json(out / MANIFEST, {"settings": s.as_dict(), "pid_rule": rule, **described})
    log.info(
        "Re-ID crops in %s: %s (%d test ids give no query: gallery only)",
        out,
        summary.splits,
        single_span,
    )
    return summary


class MotReIDBuilder:
    """Builds (once, then reuses) a Re-ID set from a folder of MOTChallenge sequences.

    Used by ``data=mot17_reid``: the Market-layout output goes to
    ``<cache_dir>/<hash of the inputs and settings>/``.

    Args:
        mot_root: folder of sequence folders (e.g. ``MOT17/train``); each needs ``img1/`` frames.
        cache_dir: where built sets are kept.
        sequences: folder names to use (None: every sequence under ``mot_root``).
        crops: :class:`CropSettings` fields (a mapping) or the settings object.
    """

    def __init__(
        self,
        *,
        mot_root: str | Path,
        cache_dir: str | Path,
        sequences: Sequence[str] | None = None,
        crops: Mapping[str, Any] | CropSettings | None = None,
    ) -> None:
        self.mot_root = Path(mot_root)
        self.cache_dir = Path(cache_dir)
        self.sequences = None if sequences is None else [str(x) for x in sequences]
        self.settings = CropSettings.from_mapping(crops)

    def sequence_dirs(self) -> list[Path]:
        """The sequence folders, sorted by name (their position is the ``seq_index`` - 1)."""
        found = find_sequences(self.mot_root)
        if self.sequences is None:
            return found
        by_name = {d.name: d for d in found}
        missing = [n for n in self.sequences if n not in by_name]
        if missing:
            raise FileNotFoundError(
                f"{self.mot_root}: sequences {missing} not found; available: {sorted(by_name)}"
            )
        return sorted(by_name[n] for n in self.sequences)

    def build(self) -> Path:
        """The Market-layout root, built on first use."""
        dirs = self.sequence_dirs()
        key = cache_key(
            {
                "mot_root": str(self.mot_root.resolve()),
                "sequences": [d.name for d in dirs],
                **self.settings.as_dict(),
            }
        )
        out = self.cache_dir / key
        if is_complete(out, MANIFEST):
            log.info("reusing Re-ID crops in %s", out)
            return out
        return cached_folder(
            out, lambda tmp: build_reid_from_mot(dirs, tmp, self.settings), marker=MANIFEST
        )
