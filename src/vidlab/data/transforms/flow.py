"""The optical-flow channels of a clip, as the flow data pipeline makes them for training and as
export bundles rebuild them at inference: one function both use, so they cannot drift apart.

`ClipFlow` holds the settings (OpenCV's DIS (Kroeger et al., ECCV 2016, "Fast Optical Flow using
Dense Inverse Search") preset, the scale the flow is divided by, the dtype it is stored in);
`clip_flow` computes the flow of one clip from each frame to the next on grey frames (the last
frame repeats the previous flow, so there is one flow field per frame); `ClipFlow.channels` turns
it into the model's (2, T, H, W) input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
FLOW_METHOD = "dis"
#: The dtype the training pipeline caches flow in (`vidlab.data.datamodules.synthetic_flow`).
STORAGE_DTYPE = "float16"


def clip_flow(clip: np.ndarray, dis: Any) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB -> (T, H, W, 2) float32 flow in pixels from each frame to the next
    (``[..., 0]`` dx right, ``[..., 1]`` dy down; the last frame repeats the previous flow)."""
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in clip]
    flows = [dis.calc(grey[t], grey[t + 1], None) for t in range(len(grey) - 1)]
    flows.append(flows[-1] if flows else np.zeros((*grey[0].shape, 2), np.float32))
    return np.stack(flows)


@dataclass(frozen=True)
class ClipFlow:
    """How a clip's flow channels are made.

    Attributes:
        preset: DIS preset (``ultrafast``, ``fast``, ``medium``).
        scale: the flow (pixels per frame) is divided by this.
        storage_dtype: the flow is rounded to this dtype (the training cache's) before scaling.
    """

    preset: str = "medium"
    scale: float = 1.0
    storage_dtype: str = STORAGE_DTYPE

    def __post_init__(self) -> None:
        if self.preset not in DIS_PRESETS:
            raise ValueError(f"flow preset {self.preset!r}: expected one of {sorted(DIS_PRESETS)}")
        if not self.scale > 0:
            raise ValueError(f"flow scale {self.scale}: expected a positive number")
        np.dtype(self.storage_dtype)  # a dtype numpy knows, or TypeError

    def estimator(self) -> Any:
        """A fresh `cv2.DISOpticalFlow` with the preset."""
        return cv2.DISOpticalFlow_create(DIS_PRESETS[self.preset])

    def stored(self, clip: np.ndarray, dis: Any | None = None) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB -> (T, H, W, 2) flow in pixels, in `storage_dtype`."""
        return clip_flow(clip, dis or self.estimator()).astype(self.storage_dtype)

    def channels(self, clip: np.ndarray, dis: Any | None = None) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB -> the model's flow input (2, T, H, W) float32: the stored flow
        divided by `scale`, exactly what training fed the model."""
        flow = self.stored(clip, dis).astype(np.float32) / np.float32(self.scale)
        return np.ascontiguousarray(flow.transpose(3, 0, 1, 2))  # (2, T, H, W)

    def card(self) -> dict[str, Any]:
        """The settings as a bundle card describes them (read back by `from_card`)."""
        return {
            "method": FLOW_METHOD,
            "preset": self.preset,
            "scale": self.scale,
            "storage_dtype": self.storage_dtype,
            "pairs": "frame t to frame t + 1 of the clip; the last frame repeats the previous flow",
            "computed_on": "the clip's uint8 RGB frames after resize and crop, converted to grey",
            "channels": "dx (right), dy (down) in pixels per frame, divided by scale",
            "implementation": "vidlab.data.transforms.flow.ClipFlow",
        }

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> ClipFlow:
        """The settings of a card's ``flow`` section.

        Raises:
            ValueError: another flow method, or bad values (the message names them).
        """
        if card.get("method") != FLOW_METHOD:
            raise ValueError(f"flow method {card.get('method')!r}: expected {FLOW_METHOD!r}")
        return cls(
            str(card["preset"]),
            float(card["scale"]),
            str(card.get("storage_dtype", STORAGE_DTYPE)),
        )
