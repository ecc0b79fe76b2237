"""The Market-1501 folder layout: parsing file names and listing the three splits.

A Market-layout root holds three folders of person crops::

    bounding_box_train/   training images
    query/                query images of the test identities
    bounding_box_test/    the gallery: test identities, distractors and junk

Every image is named ``<pid>_c<cam>s<seq>_<frame>_<idx>.jpg`` (e.g. ``0001_c1s1_001051_00.jpg``):
identity, camera (1-based), sequence of that camera, frame number and box index in the frame.
Identity ``-1`` marks junk images (dropped from training; in the gallery the evaluation removes
them) and ``0`` marks distractors (kept in the gallery; they never match a query). Identities may
have any number of digits, which is how the crop builder writes sequence-prefixed identities
(:mod:`vidlab.data.reid.crops`). Files that do not end in ``.jpg`` (e.g. ``Thumbs.db`` in the
official archive) are ignored; a ``.jpg`` with a malformed name is an error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vidlab.errors import UserError

log = logging.getLogger(__name__)

TRAIN_DIR, QUERY_DIR, GALLERY_DIR = "bounding_box_train", "query", "bounding_box_test"
SPLIT_DIRS: dict[str, str] = {"train": TRAIN_DIR, "query": QUERY_DIR, "gallery": GALLERY_DIR}
IMAGE_SUFFIX = ".jpg"
JUNK_PID = -1
DISTRACTOR_PID = 0
NAME_PATTERN = "<pid>_c<cam>s<seq>_<frame>_<idx>.jpg"
_NAME_RE = re.compile(r"^(-1|\d+)_c(\d+)s(\d+)_(\d+)_(\d+)\.jpg$")


class MarketFormatError(UserError):
    """A file or folder does not follow the Market-1501 layout; the message names it."""


@dataclass(frozen=True)
class ReIDRecord:
    """One person crop.

    Attributes:
        path: the image file.
        pid: identity as written in the file name (-1 junk, 0 distractor).
        camid: camera, 1-based as written.
        seq: camera sequence number as written.
        frame: frame number as written.
    """

    path: Path
    pid: int
    camid: int
    seq: int
    frame: int


def parse_market_name(path: str | Path) -> ReIDRecord:
    """Parse one Market-1501 file name.

    Raises:
        MarketFormatError: the name does not match ``<pid>_c<cam>s<seq>_<frame>_<idx>.jpg``.
    """
    path = Path(path)
    match = _NAME_RE.match(path.name)
    if match is None:
        raise MarketFormatError(
            f"{path}: file name {path.name!r} does not match the Market-1501 pattern "
            f"{NAME_PATTERN} (e.g. 0001_c1s1_001051_00.jpg; pid -1 junk, 0000 distractor)"
        )
    pid, cam, seq, frame, _ = (int(g) for g in match.groups())
    if cam < 1:
        raise MarketFormatError(f"{path}: camera c{cam}, expected a 1-based camera number")
    return ReIDRecord(path=path, pid=pid, camid=cam, seq=seq, frame=frame)


def list_market_folder(folder: str | Path) -> list[ReIDRecord]:
    """All ``.jpg`` crops of one split folder, sorted by file name.

    Raises:
        FileNotFoundError: the folder does not exist.
        MarketFormatError: a ``.jpg`` file with a malformed name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (expected a Market-1501 split folder)")
    records = [parse_market_name(p) for p in sorted(folder.glob("*" + IMAGE_SUFFIX))]
    if not records:
        log.warning("%s holds no %s images", folder, IMAGE_SUFFIX)
    return records


@dataclass(frozen=True)
class MarketSplits:
    """The three lists of a Market-layout root.

    Attributes:
        root: the root folder.
        train: training crops without junk and distractors, sorted by file name.
        train_labels: contiguous 0..N-1 label of each train crop (sorted original pids -> label).
        train_pids: the original pid of each label, ``train_pids[label]``.
        query: query crops.
        gallery: gallery crops, junk (-1) and distractors (0) included.
    """

    root: Path
    train: tuple[ReIDRecord, ...]
    train_labels: tuple[int, ...]
    train_pids: tuple[int, ...]
    query: tuple[ReIDRecord, ...]
    gallery: tuple[ReIDRecord, ...]

    @property
    def num_train_ids(self) -> int:
        return len(self.train_pids)

    def summary(self) -> dict[str, dict[str, int]]:
        """Identities and images per split (query/gallery ids count real identities only)."""

        def ids(records: Sequence[ReIDRecord]) -> int:
            return len({r.pid for r in records if r.pid > DISTRACTOR_PID})

        return {
            "train": {"ids": self.num_train_ids, "images": len(self.train)},
            "query": {"ids": ids(self.query), "images": len(self.query)},
            "gallery": {"ids": ids(self.gallery), "images": len(self.gallery)},
        }


def relabel(pids: Sequence[int]) -> tuple[list[int], list[int]]:
    """Contiguous labels for identities: sorted unique pids map to 0..N-1.

    Returns:
        The label of each entry and the sorted unique pids (``pids_sorted[label]``).
    """
    unique = sorted(set(pids))
    index = {pid: label for label, pid in enumerate(unique)}
    return [index[p] for p in pids], unique


def read_market(
    root: str | Path, *, require: Sequence[str] = ("train", "query", "gallery")
) -> MarketSplits:
    """List a Market-layout root.

    Args:
        root: folder holding ``bounding_box_train/``, ``query/`` and ``bounding_box_test/``.
        require: splits whose folder must exist; the others may be missing (empty).

    Returns:
        The splits, train relabelled to contiguous labels.

    Raises:
        FileNotFoundError: ``root`` or a required split folder is missing.
        MarketFormatError: a malformed file name, or a query with identity -1 or 0.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root}: no such folder (expected a Market-1501 layout root with "
            f"{', '.join(SPLIT_DIRS.values())})"
        )
    lists: dict[str, list[ReIDRecord]] = {}
    for split, name in SPLIT_DIRS.items():
        folder = root / name
        lists[split] = list_market_folder(folder) if split in require or folder.is_dir() else []
    train = [r for r in lists["train"] if r.pid > DISTRACTOR_PID]
    dropped = len(lists["train"]) - len(train)
    if dropped:
        log.info("%s: dropped %d junk/distractor images from training", root / TRAIN_DIR, dropped)
    bad = next((r for r in lists["query"] if r.pid <= DISTRACTOR_PID), None)
    if bad is not None:
        raise MarketFormatError(f"{bad.path}: query with identity {bad.pid}, expected a real id")
    labels, pids = relabel([r.pid for r in train])
    return MarketSplits(
        root=root,
        train=tuple(train),
        train_labels=tuple(labels),
        train_pids=tuple(pids),
        query=tuple(lists["query"]),
        gallery=tuple(lists["gallery"]),
    )
