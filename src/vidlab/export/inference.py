"""Classify a video file with an export bundle: ``python -m vidlab.export.inference <bundle> <video>``.

Windows of ``num_frames`` frames, ``frame_stride`` apart, start every ``window_stride`` source
frames (all from the bundle's card); each is resized, centre-cropped and normalised as the card
says, the model scores every window, and the per-window softmax probabilities are averaged.
A model with several inputs (SlowFast's ``slow`` and ``fast`` pathways) gets each built from the
window's frames as the card's ``inputs`` list says (every ``temporal_stride``-th frame). A model of
RGB + optical flow (the two-stream network: inputs ``rgb`` and ``flow``) gets the flow of each
window computed from its resized, cropped uint8 frames with the card's ``flow`` settings, which are
those its training data used (`vidlab.data.transforms.flow.ClipFlow`, the same code).

The video streams through (`stream_windows`): frames are decoded one at a time in presentation
order (`vidlab.data.io.stream`), only those some window uses are converted and preprocessed, and a
window goes to the model as soon as its last frame is decoded, in batches of
`MAX_WINDOWS_PER_BATCH`. Memory holds one window span of preprocessed crops and one batch, whatever
the video's length; what grows with the video is the (W, K) table of window logits.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vidlab.data.io import VideoDecodeError
from vidlab.data.transforms.flow import ClipFlow
from vidlab.data.transforms.video import VideoEvalTransform
from vidlab.errors import UserError, report_user_errors
from vidlab.export.bundle import CARD_NAME
from vidlab.export.inputs import Batch, split_clip
from vidlab.export.runtime import Predictor, load_bundle

log = logging.getLogger(__name__)

UINT8_MAX = 255.0
DEFAULT_TOP_K = 5
MAX_WINDOWS_PER_BATCH = 8
# Card fields inference reads, by section (None: top level).
_CARD_FIELDS = {
    None: ("file", "runtime", "input", "sampling", "class_names"),
    "input": ("num_frames", "crop_size", "short_side", "mean", "std"),
    "sampling": ("num_frames", "frame_stride", "window_stride"),
}


@dataclass(frozen=True)
class VideoPrediction:
    """Result of `classify_video`.

    Attributes:
        window_starts: (W,) first source frame of each window.
        window_logits: (W, K) logits of each window.
        probabilities: (K,) mean softmax probability over windows.
        top: the `top_k` (class name, probability) pairs, most likely first.
    """

    window_starts: np.ndarray
    window_logits: np.ndarray
    probabilities: np.ndarray
    top: list[tuple[str, float]]


def window_starts(num_video_frames: int, span: int, stride: int) -> np.ndarray:
    """(W,) start frames of windows spanning `span` frames every `stride` frames.

    A video shorter than one window gets a single window at 0 (its frames are clamped to the
    last one, see `WindowAssembler.finish`).
    """
    if num_video_frames <= span:
        return np.zeros(1, dtype=np.int64)
    return np.arange(0, num_video_frames - span + 1, stride, dtype=np.int64)


class WindowAssembler:
    """Sliding windows assembled from frames pushed one at a time, in decode order.

    Windows start every `window_stride` frames and take `num_frames` frames `frame_stride` apart
    (the card's ``sampling``). Only frames some window uses are preprocessed and kept, and a frame
    is dropped once no later window reaches back to it: at most one window span is held.

    Args:
        card: the bundle's card (``input`` and ``sampling``).
    """

    def __init__(self, card: dict) -> None:
        spec, sampling = card["input"], card["sampling"]
        self.num_frames = int(sampling["num_frames"])
        self.frame_stride = int(sampling["frame_stride"])
        self.window_stride = int(sampling["window_stride"])
        self.span = self.num_frames * self.frame_stride
        self.transform = VideoEvalTransform(
            crop_size=int(spec["crop_size"]), short_side=int(spec["short_side"])
        )
        self.mean = torch.tensor(spec["mean"], dtype=torch.float32).view(3, 1, 1, 1)
        self.std = torch.tensor(spec["std"], dtype=torch.float32).view(3, 1, 1, 1)
        self.flow = ClipFlow.from_card(card["flow"]) if card.get("flow") else None
        self._dis = self.flow.estimator() if self.flow is not None else None
        self.crops: dict[int, torch.Tensor] = {}  # resized, cropped uint8 frames still needed
        self.last = -1  # index of the last frame pushed
        self.windows = 0

    def needs(self, index: int) -> bool:
        """Whether frame `index` belongs to some window (or to a video shorter than one window,
        whose single window clamps to its last frame)."""
        if index < self.span:
            return True
        first = -(-(index - self.span + 1) // self.window_stride) * self.window_stride
        starts = range(first, index + 1, self.window_stride)
        return any((index - s) % self.frame_stride == 0 for s in starts)

    def push(self, index: int, image: np.ndarray | None) -> tuple[int, torch.Tensor] | None:
        """Add frame `index` ((H, W, 3) uint8, or None when `needs(index)` is false); returns the
        window it completes, as (start, normalised (C, T, crop, crop) clip), or None (C = 3, or
        3 + 2 with the flow channels when the card has a ``flow`` section)."""
        if index != self.last + 1:
            raise ValueError(
                f"frame {index} pushed after frame {self.last}; expected {self.last + 1}"
            )
        self.last = index
        if image is not None:
            self.crops[index] = self.transform(torch.from_numpy(image)[None])[0]  # (3, crop, crop)
        start = index - self.span + 1
        if start < 0 or start % self.window_stride:
            return None
        window = self._clip(start)
        for old in [i for i in self.crops if i < start + self.window_stride]:
            del self.crops[old]  # no later window reaches back this far
        return start, window

    def finish(self) -> tuple[int, torch.Tensor] | None:
        """After the last frame: the single clamped window of a video shorter than one window."""
        if self.windows or self.last < 0:
            return None
        return 0, self._clip(0)

    def _clip(self, start: int) -> torch.Tensor:
        self.windows += 1
        indices = [min(start + k * self.frame_stride, self.last) for k in range(self.num_frames)]
        cropped = torch.stack([self.crops[i] for i in indices])  # (T, 3, crop, crop) uint8
        clip = cropped.permute(1, 0, 2, 3).float() / UINT8_MAX  # (3, T, crop, crop)
        clip = (clip - self.mean) / self.std
        if self.flow is not None:  # (2, T, crop, crop) after the RGB channels
            motion = self.flow.channels(cropped.permute(0, 2, 3, 1).numpy(), self._dis)
            clip = torch.cat([clip, torch.from_numpy(motion)])
        return clip


def stream_windows(
    card: dict, video_path: str | Path, batch: int = MAX_WINDOWS_PER_BATCH
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Decode `video_path` once, in order, and yield its sliding windows (`WindowAssembler`)
    preprocessed as the card prescribes, `batch` at a time, as soon as they are complete.

    The windows are those of `window_starts` over the decoded frame count.

    Yields:
        starts (B,) int64 and clips float32 (B, C, T, crop, crop), normalised (C: see
        `WindowAssembler.push`).

    Raises:
        VideoDecodeError: the file is missing or cannot be decoded.
    """
    from vidlab.data.io.stream import iter_decoded, to_array

    windows = WindowAssembler(card)
    starts: list[int] = []
    clips: list[torch.Tensor] = []

    def flush() -> tuple[np.ndarray, np.ndarray]:
        out = np.asarray(starts, np.int64), torch.stack(clips).numpy()
        starts.clear()
        clips.clear()
        return out

    try:
        for item in iter_decoded(video_path):
            image = to_array(item.frame) if windows.needs(item.index) else None
            done = windows.push(item.index, image)
            if done is not None:
                starts.append(done[0])
                clips.append(done[1])
            if len(starts) == batch:
                yield flush()
    except (UserError, FileNotFoundError) as err:
        raise VideoDecodeError(video_path, "pyav", str(err)) from err
    if windows.last < 0:
        raise VideoDecodeError(video_path, "pyav", "no frame could be decoded")
    done = windows.finish()
    if done is not None:
        starts.append(done[0])
        clips.append(done[1])
    if starts:
        yield flush()


def load_classifier_bundle(
    bundle_dir: str | Path, threads: int | None = None
) -> tuple[dict, Predictor]:
    """The card and predictor of a classifier bundle (`vidlab.export.runtime.load_bundle`: files
    checked against the card's SHA-256), its card checked for what inference reads."""
    bundle = load_bundle(bundle_dir, threads)
    path = Path(bundle_dir) / CARD_NAME
    if bundle.family != "classifier":
        raise UserError(
            f"{path}: a bundle of a {bundle.family} model; video classification "
            "needs a classifier bundle"
        )
    check_card(bundle.card, path)
    return bundle.card, bundle.predict


def check_card(card: dict, path: Path) -> None:
    """Fail with a one-line `UserError` naming `path` when the card cannot drive inference."""
    for section, keys in _CARD_FIELDS.items():
        fields = card if section is None else card.get(section)
        missing = [k for k in keys if not isinstance(fields, dict) or k not in fields]
        if missing:
            where = "" if section is None else f"{section}."
            raise UserError(
                f"{path}: no {', '.join(where + k for k in missing)}; expected the "
                f"fields that export.py writes"
            )
    spec, sampling = card["input"], card["sampling"]
    shape = spec.get("shape")
    expected = [3, int(spec["num_frames"]), int(spec["crop_size"]), int(spec["crop_size"])]
    if isinstance(shape, list) and len(shape) == len(expected) + 1 and shape[1:] != expected:
        raise UserError(
            f"{path}: input.shape {shape} (the model's input) does not match input.num_frames="
            f"{spec['num_frames']} and input.crop_size={spec['crop_size']}; expected shape "
            f"{['batch', *expected]} (the card was edited or belongs to another model)"
        )
    for index, entry in enumerate(card.get("inputs") or []):
        ok = isinstance(entry, dict) and all(k in entry for k in ("num_frames", "temporal_stride"))
        if not ok or int(entry["num_frames"]) * int(entry["temporal_stride"]) != int(
            spec["num_frames"]
        ):
            raise UserError(
                f"{path}: inputs[{index}] = {entry} does not take its frames from the "
                f"{spec['num_frames']}-frame clip; expected num_frames x temporal_stride = "
                f"input.num_frames (the inputs that export.py writes)"
            )
    _check_flow(card, path)
    if int(sampling["num_frames"]) != int(spec["num_frames"]):
        raise UserError(
            f"{path}: sampling.num_frames={sampling['num_frames']} but input."
            f"num_frames={spec['num_frames']}; expected the same frame count"
        )


def _check_flow(card: dict, path: Path) -> None:
    """A card whose inputs take flow must say how to compute it, in a way this code knows."""
    takes_flow = any(
        isinstance(e, dict) and e.get("source") == "flow" for e in card.get("inputs") or []
    )
    if takes_flow and not isinstance(card.get("flow"), dict):
        raise UserError(
            f"{path}: an input takes optical flow but the card has no flow section; expected the "
            "flow settings that export.py writes (method, preset, scale)"
        )
    if isinstance(card.get("flow"), dict):
        try:
            ClipFlow.from_card(card["flow"])
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(
                f"{path}: flow = {card['flow']} cannot be computed here ({err}); expected the "
                "flow section that export.py writes"
            ) from err


def model_inputs(card: dict, clips: np.ndarray) -> Batch:
    """The model's inputs from (W, C, T, H, W) window clips: the clips themselves, or one array per
    entry of the card's ``inputs`` (SlowFast: every alpha-th frame for ``slow``, all for ``fast``;
    two-stream: RGB channels for ``rgb``, flow channels for ``flow``).
    """
    specs = card.get("inputs") or [{"temporal_stride": 1}]
    return split_clip(clips, specs)


def _predict_batch(predict: Predictor, clips: Batch, card: dict, bundle_dir: Path) -> np.ndarray:
    """Logits of a batch of clips; a runtime that rejects it is reported as a card that does not
    match its model, in one line."""
    try:
        return predict(clips)
    except Exception as err:  # each runtime has its own error types (ORT, OpenVINO, TorchScript)
        reason = next((ln.strip() for ln in str(err).splitlines() if ln.strip()), repr(err))
        shapes = [list(a.shape) for a in clips] if isinstance(clips, tuple) else list(clips.shape)
        raise UserError(
            f"{bundle_dir / card['file']}: the model rejected clips of shape {shapes} "
            f"built from {bundle_dir / CARD_NAME} ({reason[:300]}); expected the card exported "
            f"with this model file"
        ) from err


def classify_video(
    bundle_dir: str | Path,
    video_path: str | Path,
    top_k: int = DEFAULT_TOP_K,
    threads: int | None = None,
) -> VideoPrediction:
    """Classify `video_path` with the bundle in `bundle_dir` (any format) over sliding windows,
    streamed through the model as they are decoded (`stream_windows`: bounded memory).

    Raises:
        UserError: `top_k` is below 1, or the bundle is unusable (bad card, changed model file).
        VideoDecodeError: the video cannot be decoded.
    """
    if top_k < 1:
        raise UserError(f"top_k={top_k}, expected a positive number of classes to list")
    card, predict = load_classifier_bundle(bundle_dir, threads)
    starts, logits = [], []
    for batch_starts, clips in stream_windows(card, video_path):
        inputs = model_inputs(card, clips)
        logits.append(_predict_batch(predict, inputs, card, Path(bundle_dir)))
        starts.append(batch_starts)
    starts, logits = np.concatenate(starts), np.concatenate(logits)
    probabilities = torch.softmax(torch.from_numpy(logits).double(), dim=1).mean(0).numpy()
    names = card["class_names"]
    order = np.argsort(-probabilities)[:top_k]
    top = [(names[i], float(probabilities[i])) for i in order]
    return VideoPrediction(starts, logits, probabilities, top)


def main(argv: list[str] | None = None) -> None:
    from vidlab.utils.reporting import print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle_dir", help="an export bundle folder (holds card.json)")
    parser.add_argument("video", help="video file to classify")
    parser.add_argument(
        "--top-k", type=_positive_int, default=DEFAULT_TOP_K, help="classes to list (at least 1)"
    )
    parser.add_argument(
        "--threads", type=_positive_int, default=None, help="CPU threads of the runtime"
    )
    args = parser.parse_args(argv)
    with report_user_errors(extra=(VideoDecodeError,)):
        result = classify_video(args.bundle_dir, args.video, args.top_k, args.threads)
    print_table(
        f"{Path(args.video).name}: {len(result.window_starts)} windows",
        ["class", "probability"],
        result.top,
    )


def _positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}, expected a positive integer")
    return value


if __name__ == "__main__":
    main()
