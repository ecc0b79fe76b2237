"""Video summaries: shots, keyframes, a contact sheet and a summary clip, in two streaming passes.

Pass 1 runs the sampler (`vidlab.video.sampling`) over the video; every frame it hands out goes to
the shot detector (`vidlab.video.shots`) and, in batches, to the embedder (`vidlab.video.embed`).
What is kept is one (D,) float32 row per analysed frame. Per shot, the keyframe is the analysed
frame nearest the centroid of the shot's embeddings (cosine distance of unit rows); with
``keyframes_per_shot = k > 1``, k-means (k-means++-style farthest-point start, deterministic)
splits the shot's embeddings and each cluster gives the frame nearest its centre.

Pass 2 decodes again and converts only the keyframes (written as ``keyframes/*.jpg``, and small
copies kept for the contact sheet) and, when asked, the frames of the chosen segments, encoded
into the summary MP4 as they come. A chosen segment is ``segment_s`` seconds around each shot's
first keyframe (clipped to the shot); `summarize` also takes extra segments (for example a
localizer's top-scoring action segments) to add to the clip.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidlab.video.embed import FrameEmbedder
from vidlab.video.sampling import SamplerSettings, SamplerStats, sample_frames
from vidlab.video.shots import ShotBoundaryDetector, ShotSettings, shot_ranges

log = logging.getLogger(__name__)

KEYFRAME_DIR = "keyframes"
_KMEANS_ITERS = 20
_JPEG_QUALITY = 90


@dataclass(frozen=True)
class SummaryOptions:
    """What `summarize` writes.

    Attributes:
        keyframes_per_shot: keyframes per shot (fewer when a shot has fewer analysed frames).
        embed_batch: frames per embedder call.
        keyframe_side: longer side of the keyframe JPEGs, pixels (None: stored size).
        sheet_columns: tiles per row of the contact sheet.
        sheet_tile_width: width of one tile, pixels.
        video: also write the summary MP4.
        segment_s: seconds of each shot in the summary MP4, centred on its first keyframe.
        video_side: longer side of the summary MP4's frames, pixels.
    """

    keyframes_per_shot: int = 1
    embed_batch: int = 32
    keyframe_side: int | None = 480
    sheet_columns: int = 6
    sheet_tile_width: int = 192
    video: bool = False
    segment_s: float = 2.0
    video_side: int = 480


@dataclass
class Shot:
    """One shot of the summary: frames ``[start, end)`` and its keyframe indices."""

    start: int
    end: int
    transition: str
    analysed: int = 0
    keyframes: list[int] = field(default_factory=list)


@dataclass
class Summary:
    """Everything `summarize` found (``summary.json`` is `as_json`)."""

    source: str
    fps: float
    num_frames: int
    shots: list[Shot]
    segments: list[tuple[int, int]]
    sampler: dict[str, Any]
    embedder: str
    keyframe_files: dict[int, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        def t(frame: int) -> float:
            return round(frame / self.fps, 4)

        return {
            "source": self.source,
            "fps": self.fps,
            "num_frames": self.num_frames,
            "duration_s": t(self.num_frames),
            "embedder": self.embedder,
            "sampler": self.sampler,
            "shots": [
                {
                    "index": i,
                    "start_frame": s.start,
                    "end_frame": s.end,
                    "segment": [t(s.start), t(s.end)],
                    "transition_in": s.transition,
                    "analysed_frames": s.analysed,
                    "keyframes": [
                        {"frame": k, "time_s": t(k), "file": self.keyframe_files.get(k)}
                        for k in s.keyframes
                    ],
                }
                for i, s in enumerate(self.shots)
            ],
            "summary_segments": [
                {"frames": [a, b], "segment": [t(a), t(b)]} for a, b in self.segments
            ],
        }


def _analyse(
    path: Path,
    sampler: SamplerSettings,
    shot_settings: ShotSettings,
    embedder: FrameEmbedder,
    batch: int,
    stats: SamplerStats,
) -> tuple[list, np.ndarray, np.ndarray]:
    """Pass 1: boundaries, the analysed frame indices (M,) and their embeddings (M, D)."""
    detector = ShotBoundaryDetector(shot_settings)
    indices: list[int] = []
    rows: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    for frame in sample_frames(path, sampler, stats):
        detector.push(frame.index, cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
        indices.append(frame.index)
        pending.append(frame.image)
        if len(pending) >= batch:
            rows.append(embedder.embed(pending))
            pending = []
    if pending:
        rows.append(embedder.embed(pending))
    embeddings = np.concatenate(rows) if rows else np.zeros((0, 1), np.float32)
    return detector.finish(), np.asarray(indices, np.int64), embeddings.astype(np.float32)


def nearest_to_centroids(embeddings: np.ndarray, k: int) -> list[int]:
    """Row indices of up to `k` representatives of (M, D) unit `embeddings`: the row nearest the
    mean for k = 1, else the row nearest each k-means centre (ascending, distinct)."""
    m = len(embeddings)
    if m == 0:
        return []
    centre = embeddings.mean(0)
    first = int(np.argmin(np.linalg.norm(embeddings - centre, axis=1)))
    if k <= 1 or m == 1:
        return [first]
    k = min(k, m)
    centres = [embeddings[first]]
    for _ in range(1, k):  # farthest point from the chosen centres
        d = np.min([np.linalg.norm(embeddings - c, axis=1) for c in centres], axis=0)
        centres.append(embeddings[int(np.argmax(d))])
    centres = np.stack(centres)
    for _ in range(_KMEANS_ITERS):
        assign = np.argmin(((embeddings[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        new = np.stack(
            [
                embeddings[assign == j].mean(0) if np.any(assign == j) else centres[j]
                for j in range(k)
            ]
        )
        if np.allclose(new, centres):
            break
        centres = new
    picks = {int(np.argmin(np.linalg.norm(embeddings - c, axis=1))) for c in centres}
    return sorted(picks)


def _choose_keyframes(
    shots: list[Shot], indices: np.ndarray, embeddings: np.ndarray, k: int
) -> None:
    for shot in shots:
        inside = np.flatnonzero((indices >= shot.start) & (indices < shot.end))
        shot.analysed = len(inside)
        if len(inside) == 0:  # no analysed frame: the middle frame stands for the shot
            shot.keyframes = [(shot.start + shot.end - 1) // 2]
            continue
        picks = nearest_to_centroids(embeddings[inside], k)
        shot.keyframes = sorted(int(indices[inside[p]]) for p in picks)


def _segments(shots: list[Shot], fps: float, seconds: float) -> list[tuple[int, int]]:
    half = max(1, round(seconds * fps / 2))
    out = []
    for s in shots:
        centre = s.keyframes[0]
        a, b = max(s.start, centre - half), min(s.end, centre + half)
        out.append((a, b))
    return out


def summarize(
    path: str | Path,
    out_dir: str | Path,
    *,
    embedder: FrameEmbedder,
    sampler: SamplerSettings | None = None,
    shots: ShotSettings | None = None,
    options: SummaryOptions | None = None,
    extra_segments: list[tuple[int, int]] | None = None,
) -> Summary:
    """Summarise `path` into `out_dir` (see the module docstring).

    Args:
        path: the video.
        out_dir: where ``keyframes/``, ``contact_sheet.png`` and ``summary.mp4`` go.
        embedder: frame embeddings for keyframe choice.
        sampler: which frames pass 1 analyses.
        shots: shot detector options.
        options: outputs.
        extra_segments: more ``[start, end)`` frame ranges for the summary clip (e.g. a
            localizer's top-scoring action segments).
    """
    from vidlab.data.io.stream import probe

    path, out_dir = Path(path), Path(out_dir)
    options = options or SummaryOptions()
    info = probe(path)
    stats = SamplerStats()
    boundaries, indices, embeddings = _analyse(
        path,
        sampler or SamplerSettings(),
        shots or ShotSettings(),
        embedder,
        options.embed_batch,
        stats,
    )
    num_frames = stats.decoded
    kinds = {b.frame: b.kind for b in boundaries}
    shot_list = [
        Shot(a, b, kinds.get(a, "start")) for a, b in shot_ranges(sorted(kinds), num_frames)
    ]
    _choose_keyframes(shot_list, indices, embeddings, options.keyframes_per_shot)
    segments = _segments(shot_list, info.fps, options.segment_s) if options.video else []
    segments = sorted(segments + [tuple(s) for s in (extra_segments or [])])
    summary = Summary(
        str(path), info.fps, num_frames, shot_list, segments, stats.as_dict(), embedder.name
    )
    _render(path, out_dir, summary, options)
    return summary


def _render(path: Path, out_dir: Path, summary: Summary, options: SummaryOptions) -> None:
    """Pass 2: keyframe JPEGs, contact sheet and (optionally) the summary MP4."""
    from vidlab.data.io.stream import StreamWriter, iter_decoded, probe, reduced_size, to_array

    info = probe(path)
    key_size = reduced_size(info.width, info.height, options.keyframe_side)
    vid_size = reduced_size(info.width, info.height, options.video_side)
    wanted = {k for s in summary.shots for k in s.keyframes}
    in_segment = np.zeros(summary.num_frames, bool)
    for a, b in summary.segments:
        in_segment[a:b] = True
    (out_dir / KEYFRAME_DIR).mkdir(parents=True, exist_ok=True)
    tiles: dict[int, np.ndarray] = {}
    writer = (
        StreamWriter(out_dir / "summary.mp4", width=vid_size[0], height=vid_size[1], fps=info.fps)
        if options.video and summary.segments
        else None
    )
    try:
        for item in iter_decoded(path):
            i = item.index
            if i in wanted:
                image = to_array(item.frame, key_size)
                name = f"{KEYFRAME_DIR}/frame_{i:07d}.jpg"
                cv2.imwrite(
                    str(out_dir / name),
                    cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY],
                )
                summary.keyframe_files[i] = name
                tw = options.sheet_tile_width
                tiles[i] = cv2.resize(
                    image, (tw, max(1, round(tw * image.shape[0] / image.shape[1])))
                )
            if writer is not None and i < len(in_segment) and in_segment[i]:
                writer.write(to_array(item.frame, vid_size))
    finally:
        if writer is not None:
            writer.close()
    write_contact_sheet(out_dir / "contact_sheet.png", summary, tiles, options.sheet_columns)


def write_contact_sheet(
    path: Path, summary: Summary, tiles: dict[int, np.ndarray], columns: int
) -> Path:
    """A grid of keyframe tiles in time order, each labelled with its shot and time."""
    order = [(i, k) for i, s in enumerate(summary.shots) for k in s.keyframes if k in tiles]
    if not order:
        sheet = np.full((32, 32, 3), 255, np.uint8)
    else:
        th, tw = tiles[order[0][1]].shape[:2]
        label_h = 18
        rows = (len(order) + columns - 1) // columns
        sheet = np.full((rows * (th + label_h), min(columns, len(order)) * tw, 3), 255, np.uint8)
        for n, (shot, k) in enumerate(order):
            r, c = divmod(n, columns)
            y, x = r * (th + label_h), c * tw
            tile = cv2.resize(tiles[k], (tw, th))
            sheet[y : y + th, x : x + tw] = tile
            text = f"shot {shot}  {k / summary.fps:.1f}s"
            cv2.putText(
                sheet, text, (x + 3, y + th + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1
            )
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return path
