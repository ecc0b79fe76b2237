"""Dense optical flow between consecutive frames: OpenCV's DIS and Farneback, torchvision's RAFT.

Every estimator maps two (H, W, 3) uint8 RGB frames to an (H, W, 2) float32 flow field in pixels
(``[..., 0]`` = dx to the right, ``[..., 1]`` = dy down) that carries the first frame onto the
second. `build_flow` makes one by name:

- ``dis`` (default): `cv2.DISOpticalFlow` (Kroeger et al., ECCV 2016, "Fast Optical Flow using
  Dense Inverse Search") on grey frames, preset ``ultrafast`` / ``fast`` / ``medium``; no weights;
- ``farneback``: `cv2.calcOpticalFlowFarneback` (polynomial expansion, Farneback 2003);
- ``raft_small`` / ``raft_large``: torchvision's RAFT (Teed and Deng, ECCV 2020), weights from a
  local ``state_dict`` file only (nothing is downloaded); frames padded (edge pixels repeated) to
  a multiple of 8 and at least 128 pixels a side, the flow cropped back.

`flow_to_color` draws a flow field on the usual colour wheel (hue: direction, brightness:
magnitude).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vidlab.errors import UserError

log = logging.getLogger(__name__)

METHODS = ("dis", "farneback", "raft_small", "raft_large")
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
_RAFT_MULTIPLE = 8  # RAFT's feature maps are 1/8 of the input
_RAFT_MIN_SIDE = 128  # its correlation pyramid needs feature maps of at least 16 x 16


class FlowEstimator(Protocol):
    """Anything that estimates dense flow between two frames."""

    name: str

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """(H, W, 2) float32 flow in pixels from (H, W, 3) uint8 RGB `first` to `second`."""
        ...


class DISFlow:
    """OpenCV's Dense Inverse Search flow on grey frames.

    Args:
        preset: ``ultrafast``, ``fast`` or ``medium``.
    """

    def __init__(self, preset: str = "fast") -> None:
        if preset not in DIS_PRESETS:
            raise UserError(f"flow.preset={preset!r}: expected one of {sorted(DIS_PRESETS)}")
        self.name = f"dis-{preset}"
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        a, b = cv2.cvtColor(first, cv2.COLOR_RGB2GRAY), cv2.cvtColor(second, cv2.COLOR_RGB2GRAY)
        return self._dis.calc(a, b, None)


class FarnebackFlow:
    """OpenCV's Farneback flow on grey frames (its documented example parameters)."""

    def __init__(
        self,
        *,
        pyr_scale: float = 0.5,
        levels: int = 3,
        winsize: int = 15,
        iterations: int = 3,
        poly_n: int = 5,
        poly_sigma: float = 1.2,
    ) -> None:
        self.name = "farneback"
        self._args = (pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, 0)

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        a, b = cv2.cvtColor(first, cv2.COLOR_RGB2GRAY), cv2.cvtColor(second, cv2.COLOR_RGB2GRAY)
        return cv2.calcOpticalFlowFarneback(a, b, None, *self._args)


class RaftFlow:
    """torchvision's RAFT with weights from a local file.

    Args:
        variant: ``raft_small`` or ``raft_large``.
        weights: a ``state_dict`` saved with ``torch.save`` (None: random initialisation, for
            speed measurements only; warned).
        num_flow_updates: refinement iterations (torchvision's default 12).
        device: torch device.
    """

    def __init__(
        self,
        variant: str = "raft_small",
        weights: str | Path | None = None,
        *,
        num_flow_updates: int = 12,
        device: str = "cpu",
    ) -> None:
        import torch
        from torchvision.models import optical_flow

        if variant not in ("raft_small", "raft_large"):
            raise UserError(f"flow.method={variant!r}: expected raft_small or raft_large")
        self._torch = torch
        self.model = getattr(optical_flow, variant)(weights=None, progress=False)
        if weights is None:
            log.warning(
                "%s: no flow.weights given; random weights (speed measurement only)", variant
            )
        else:
            self.model.load_state_dict(_read_state_dict(Path(weights), variant))
        self.model.eval().to(device)
        self.name, self.device, self.num_flow_updates = variant, device, num_flow_updates

    def batch(self, firsts: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Flow of (N, H, W, 3) uint8 RGB pairs -> (N, H, W, 2) float32."""
        torch = self._torch
        n, h, w = firsts.shape[:3]
        ph = max(-h % _RAFT_MULTIPLE, _RAFT_MIN_SIDE - h)
        pw = max(-w % _RAFT_MULTIPLE, _RAFT_MIN_SIDE - w)

        def prep(x: np.ndarray):
            t = (
                torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float()
            )  # (N, 3, H, W)
            t = t / 127.5 - 1.0
            if ph or pw:
                t = torch.nn.functional.pad(t, (0, pw, 0, ph), mode="replicate")
            return t.to(self.device)

        with torch.inference_mode():
            flows = self.model(prep(firsts), prep(seconds), num_flow_updates=self.num_flow_updates)
        return flows[-1][:, :, :h, :w].permute(0, 2, 3, 1).float().cpu().numpy()  # (N, H, W, 2)

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return self.batch(first[None], second[None])[0]


def _read_state_dict(path: Path, variant: str) -> dict:
    import torch

    if not path.is_file():
        raise FileNotFoundError(f"flow.weights={path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file
        raise UserError(f"flow.weights={path}: not a torch state_dict file ({err})") from err
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"flow.weights={path}: expected a state_dict (a dict of tensors)")
    return state


def build_flow(
    method: str = "dis",
    *,
    weights: str | Path | None = None,
    preset: str = "fast",
    num_flow_updates: int = 12,
    device: str = "cpu",
) -> FlowEstimator:
    """The estimator `method` names (one of `METHODS`)."""
    if method == "dis":
        return DISFlow(preset)
    if method == "farneback":
        return FarnebackFlow()
    if method in ("raft_small", "raft_large"):
        return RaftFlow(method, weights, num_flow_updates=num_flow_updates, device=device)
    raise UserError(f"flow.method={method!r}: expected one of {METHODS}")


def flow_to_color(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB picture of an (H, W, 2) flow: hue = direction, value = magnitude
    (scaled so that `max_magnitude` pixels, default the field's maximum, is full brightness)."""
    magnitude, angle = cv2.cartToPolar(flow[..., 0], flow[..., 1], angleInDegrees=True)
    top = max_magnitude or float(magnitude.max()) or 1.0
    hsv = np.zeros((*flow.shape[:2], 3), np.uint8)
    hsv[..., 0] = (angle / 2).astype(np.uint8)  # OpenCV hue is 0-179
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / top * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def magnitude_stats(flow: np.ndarray) -> tuple[float, float]:
    """Mean and 95th percentile of the per-pixel flow magnitude (pixels)."""
    flow = np.asarray(flow, np.float32)
    magnitude = cv2.magnitude(flow[..., 0], flow[..., 1]).ravel()
    k = int(round(0.95 * (magnitude.size - 1)))
    return float(magnitude.mean()), float(np.partition(magnitude, k)[k])
