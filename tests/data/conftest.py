"""Fixtures for the data pipeline tests: tiny real video files and dataset layouts built from them.

Every frame encodes its index: red = FRAME_BASE + FRAME_STEP * index (flat over the frame), green
rises from left to right (so a horizontal flip is visible), blue is constant. `frame_ids` reads
the indices back from decoded frames.

Videos are encoded in a process started with the 'spawn' context: FFmpeg state created by PyAV in
the pytest process could hang the DataLoader workers that later tests fork.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from vidlab.data.io.writer import write_video

HEIGHT, WIDTH = 48, 64
NUM_FRAMES = 24
FPS = 25.0
FRAME_BASE, FRAME_STEP = 16, 8
# Frame times of the variable-frame-rate file: 25 fps, then 10 fps, then 50 fps (seconds).
VFR_TIMES = tuple(
    [i * 0.04 for i in range(8)]
    + [0.28 + i * 0.1 for i in range(1, 9)]
    + [1.08 + i * 0.02 for i in range(1, 9)]
)


@dataclass(frozen=True)
class VideoSpec:
    """A library video: file name, encoder, audio track, and frame times (None: constant fps)."""

    name: str
    codec: str
    audio: bool = False
    frame_times: tuple[float, ...] | None = None
    bit_rate: int | None = 4_000_000


# Decodable files (both backends unless noted).
GOOD_SPECS = (
    VideoSpec("h264.mp4", "libx264"),
    VideoSpec("h264_audio.mp4", "libx264", audio=True),
    VideoSpec("mpeg4.avi", "mpeg4"),
    VideoSpec("mpeg4_audio.avi", "mpeg4", audio=True),
    VideoSpec("vp9.webm", "libvpx-vp9"),
    VideoSpec("h264.mkv", "libx264"),
    VideoSpec("vfr.mp4", "libx264", frame_times=VFR_TIMES),
    # decord 0.6 (FFmpeg 4.1) has no AV1 decoder: only the PyAV fallback reads this file.
    VideoSpec("av1.mp4", "libsvtav1", bit_rate=None),
)


def frame_pattern(num_frames: int = NUM_FRAMES) -> np.ndarray:
    """uint8 (T, H, W, 3) frames whose red level encodes the frame index."""
    frames = np.empty((num_frames, HEIGHT, WIDTH, 3), dtype=np.uint8)
    frames[..., 0] = (FRAME_BASE + FRAME_STEP * np.arange(num_frames))[:, None, None]
    frames[..., 1] = np.linspace(0, 255, WIDTH).astype(np.uint8)[None, None, :]
    frames[..., 2] = 128
    return frames


def frame_ids(frames: np.ndarray) -> list[int]:
    """Frame indices encoded in decoded uint8 (T, H, W, 3) frames (centre patch, red channel)."""
    red = frames[:, HEIGHT // 4 : 3 * HEIGHT // 4, WIDTH // 4 : 3 * WIDTH // 4, 0].mean((1, 2))
    return np.round((red - FRAME_BASE) / FRAME_STEP).astype(int).tolist()


@dataclass(frozen=True)
class VideoFacts:
    """What the tests know about the library videos (handed out by the `facts` fixture)."""

    height: int = HEIGHT
    width: int = WIDTH
    num_frames: int = NUM_FRAMES
    fps: float = FPS
    vfr_times: tuple[float, ...] = VFR_TIMES
    decord_readable: tuple[str, ...] = tuple(s.name for s in GOOD_SPECS if s.name != "av1.mp4")
    ucf_classes: tuple[str, ...] = ()
    kinetics_rows: tuple[tuple[str, str, int, int], ...] = ()
    ssv2_templates: tuple[str, ...] = ()

    @staticmethod
    def frame_ids(frames: np.ndarray) -> list[int]:
        return frame_ids(frames)

    @staticmethod
    def is_mirrored(video: np.ndarray) -> bool:
        """Whether uint8 frames (..., H, W, 3) show the green ramp falling left to right."""
        green = video[..., 1].astype(float)
        return bool(
            green[..., : green.shape[-1] // 4].mean() > green[..., -green.shape[-1] // 4 :].mean()
        )


@pytest.fixture(scope="session")
def facts() -> VideoFacts:
    return VideoFacts(
        ucf_classes=UCF_CLASSES, kinetics_rows=KINETICS_ROWS, ssv2_templates=SSV2_TEMPLATES
    )


@pytest.fixture(scope="session")
def spawn_pool() -> Iterator[ProcessPoolExecutor]:
    """One spawned process for work that must not touch FFmpeg in the pytest process."""
    with ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        yield pool


@pytest.fixture(scope="session")
def video_library(tmp_path_factory: pytest.TempPathFactory, spawn_pool) -> dict[str, Path]:
    """name -> path of every library video, plus three broken files:

    * ``truncated.avi``: an AVI cut at 80 %: its header still claims NUM_FRAMES frames, fewer
      remain (decodable up to the cut).
    * ``truncated.mp4``: an MP4 cut at 60 %: the index (moov) at its end is gone: undecodable.
    * ``empty.mp4``: zero bytes.
    """
    folder = tmp_path_factory.mktemp("videos")
    frames = frame_pattern()
    jobs = {
        spec.name: spawn_pool.submit(
            write_video,
            folder / spec.name,
            frames,
            fps=FPS,
            codec=spec.codec,
            audio=spec.audio,
            frame_times_s=spec.frame_times,
            bit_rate=spec.bit_rate,
        )
        for spec in GOOD_SPECS
    }
    library = {name: job.result() for name, job in jobs.items()}
    for source, broken, keep in (("mpeg4.avi", "truncated.avi", 0.8),
                                 ("h264.mp4", "truncated.mp4", 0.6)):  # fmt: skip
        data = library[source].read_bytes()
        (folder / broken).write_bytes(data[: int(len(data) * keep)])
        library[broken] = folder / broken
    (folder / "empty.mp4").write_bytes(b"")
    library["empty.mp4"] = folder / "empty.mp4"
    return library


def place(library: dict[str, Path], name: str, target: Path) -> Path:
    """Copy library video `name` to `target` (creating folders)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(library[name], target)
    return target


# -- dataset layouts ---------------------------------------------------------------------------

UCF_CLASSES = ("ApplyEyeMakeup", "Biking", "HandstandPushups")


@pytest.fixture
def ucf101_layout(tmp_path: Path, video_library) -> Callable[..., Path]:
    """Builds a UCF101 tree (3 classes, 3 train + 2 test videos each, split 1; lists for splits
    2 and 3 swap the groups). `broken` maps a video name to a library file to use instead
    (e.g. truncated.mp4); names in `missing` are listed but not written. Returns the root."""

    def build(broken: dict[str, str] | None = None, missing: tuple[str, ...] = ()) -> Path:
        root = tmp_path / "UCF-101"
        root.mkdir()
        with open(root / "classInd.txt", "w", newline="") as f:
            f.writelines(f"{i + 1} {c}\r\n" for i, c in enumerate(UCF_CLASSES))
        groups = {"train": (8, 9, 10), "test": (1, 2)}
        lists = {k: [] for k in ("train", "test")}
        for label, cls in enumerate(UCF_CLASSES):
            file_cls = "HandStandPushups" if cls == "HandstandPushups" else cls  # official quirk
            for part, group_ids in groups.items():
                for g in group_ids:
                    name = f"v_{file_cls}_g{g:02d}_c01.avi"
                    lists[part].append((f"{cls}/{name}", label + 1))
                    if name not in missing:
                        source = (broken or {}).get(name, "mpeg4_audio.avi")
                        place(video_library, source, root / cls / name)
        for split in (1, 2, 3):
            train, test = ("train", "test") if split != 2 else ("test", "train")
            with open(root / f"trainlist0{split}.txt", "w", newline="") as f:
                f.writelines(f"{p} {lab}\r\n" for p, lab in lists[train])
            with open(root / f"testlist0{split}.txt", "w", newline="") as f:
                f.writelines(f"{p}\r\n" for p, _ in lists[test])
        return root

    return build


HMDB_CLASSES = ("brush_hair", "cartwheel", "wave")


@pytest.fixture
def hmdb51_layout(tmp_path: Path, video_library) -> Callable[..., Path]:
    """Builds an HMDB51 tree: 3 classes, per class 2 train (id 1), 1 test (id 2) and 1 unused
    (id 0) video, split files for split 1 in `<root>/splits`. Returns the root."""

    def build(missing: tuple[str, ...] = ()) -> Path:
        root = tmp_path / "hmdb51"
        splits = root / "splits"
        splits.mkdir(parents=True)
        for cls in HMDB_CLASSES:
            lines = []
            for i, split_id in enumerate((1, 1, 2, 0)):
                name = f"{cls}_clip_{i}_[#!]_u_cm_np1_fr_med_{i}.avi"  # names carry odd characters
                lines.append(f"{name} {split_id} \r\n")
                if name not in missing:
                    place(video_library, "mpeg4.avi", root / cls / name)
            (splits / f"{cls}_test_split1.txt").write_text("".join(lines), newline="")
        return root

    return build


KINETICS_ROWS = (  # label, youtube id, start, end, split
    ("abseiling", "-0wR5jVB-WPk", 417, 427),
    ("abseiling", "3caPS4FHFF8", 36, 46),
    ("air drumming", "--nQbRBEz2s", 104, 114),
    ("air drumming", "2cPLjY5AWXU", 1, 11),
    ("zumba", "zz9Ck0lYhm8", 5, 15),
)


@pytest.fixture
def kinetics_layout(tmp_path: Path, video_library) -> Callable[..., Path]:
    """Builds a Kinetics-400 copy: kinetics-400_{train,val}.csv in `<root>/annotations` (the val
    rows use the train ids with a "V" appended), videos named `<id>_<start:06d>_<end:06d>.mp4`
    under `<root>/videos/<split>/<label>/` (nested) or directly in `<root>/videos/` (flat).
    Ids in `missing` get no file. Returns the root."""

    def build(*, nested: bool = True, missing: tuple[str, ...] = ()) -> Path:
        root = tmp_path / "kinetics"
        annotations = root / "annotations"
        annotations.mkdir(parents=True)
        for split, suffix in (("train", ""), ("val", "V")):
            lines = ["label,youtube_id,time_start,time_end,split,is_cc\n"]
            for label, youtube_id, start, end in KINETICS_ROWS:
                youtube_id += suffix
                quoted = f'"{label}"' if " " in label else label
                lines.append(f"{quoted},{youtube_id},{start},{end},{split},0\n")
                if youtube_id not in missing:
                    folder = root / "videos" / split / label if nested else root / "videos"
                    place(
                        video_library,
                        "h264.mp4",
                        folder / f"{youtube_id}_{start:06d}_{end:06d}.mp4",
                    )
            (annotations / f"kinetics-400_{split}.csv").write_text("".join(lines))
        return root

    return build


SSV2_TEMPLATES = (
    "Pushing [something] from left to right",
    "Pushing [something] from right to left",
    "Putting [something] on a surface",
)


@pytest.fixture
def ssv2_layout(tmp_path: Path, video_library) -> Callable[..., Path]:
    """Builds a Something-Something v2 copy: the four official JSON files in `<root>/labels`
    and `<id>.webm` videos in `<root>/videos`; 6 train, 3 validation, 2 unlabeled test clips.
    Returns the root."""

    def build() -> Path:
        root = tmp_path / "ssv2"
        labels = root / "labels"
        labels.mkdir(parents=True)
        classes = {
            t.replace("[", "").replace("]", ""): str(i) for i, t in enumerate(SSV2_TEMPLATES)
        }
        (labels / "something-something-v2-labels.json").write_text(json.dumps(classes))
        next_id = iter(range(1000, 2000))
        for split, per_class in (("train", 2), ("validation", 1)):
            entries = []
            for template in SSV2_TEMPLATES:
                for _ in range(per_class):
                    entries.append(
                        {
                            "id": str(next(next_id)),
                            "label": "a cup",
                            "template": template,
                            "placeholders": ["a cup"],
                        }
                    )
            (labels / f"something-something-v2-{split}.json").write_text(json.dumps(entries))
            for entry in entries:
                place(video_library, "vp9.webm", root / "videos" / f"{entry['id']}.webm")
        test = [{"id": str(next(next_id))} for _ in range(2)]
        (labels / "something-something-v2-test.json").write_text(json.dumps(test))
        for entry in test:
            place(video_library, "vp9.webm", root / "videos" / f"{entry['id']}.webm")
        return root

    return build


@pytest.fixture
def folder_layout(tmp_path: Path, video_library) -> Callable[..., Path]:
    """Builds `<root>/<split>/<class>/<video>` with 2 classes; `videos` maps split -> per-class
    library file names (default: 3 h264 train clips and 1 of each class in val and test)."""

    def build(videos: dict[str, list[str]] | None = None) -> Path:
        root = tmp_path / "folders"
        videos = videos or {"train": ["h264.mp4"] * 3, "val": ["h264.mp4"], "test": ["h264.mp4"]}
        for split, names in videos.items():
            for cls in ("jump", "run"):
                for i, name in enumerate(names):
                    place(video_library, name, root / split / cls / f"{cls}_{i}{Path(name).suffix}")
        return root

    return build
