"""Track tubes: the fixed-size crop around a tracked box that tracklet action models see.

One definition serves both sides, so that training tubes and runtime tubes are the same crop:
the synthetic tracklet-action generator (`vidlab.data.synthetic.tracklets`) cuts its clips with
`crop_tube`, and the runtime's action analytic (`vidlab.analytics.actions`) cuts every confirmed
track's frames with it.

The crop window is a square centred on the box, of side ``max(w, h) * (1 + 2 * margin)`` (the
context margin on each side of the longer box side), so a person who falls (a tall box becoming a
wide one) keeps its scale in the tube. Pixels outside the image are a flat grey (`FILL`): a
person entering at the frame's edge stays a person cut by a flat border (repeating the border
would smear their colours sideways, like a lying body).
"""

from __future__ import annotations

import cv2
import numpy as np

#: Context margin on each side, as a fraction of the box's longer side.
DEFAULT_MARGIN = 0.25
#: Value of the pixels outside the image.
FILL = 128


def tube_windows(xyxy: np.ndarray, margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """(N, 4) square crop windows (x0, y0, side, side) of (N, 4) xyxy boxes.

    Raises:
        ValueError: a negative margin.
    """
    if margin < 0:
        raise ValueError(f"tube margin must be >= 0, got {margin}")
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    centre = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    side = np.maximum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]) * (1 + 2 * margin)
    side = np.maximum(side, 1.0)
    return np.column_stack([centre - side[:, None] / 2, side, side])


def crop_tube(
    image: np.ndarray,
    xyxy: np.ndarray,
    size: int,
    margin: float = DEFAULT_MARGIN,
    offset: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """The (size, size, 3) crop of one box's tube window from `image` (area resampling; outside
    the image: `FILL`).

    Args:
        image: (H, W, 3) uint8 frame.
        xyxy: (4,) box in the image's pixels (plus `offset`).
        size: output side in pixels.
        margin: context margin (see `tube_windows`).
        offset: (x, y) of the image's top-left pixel in the box's coordinates (the image is a
            window of a larger frame).
    """
    if size < 1:
        raise ValueError(f"tube size must be >= 1, got {size}")
    x0, y0, side, _ = tube_windows(np.asarray(xyxy)[None], margin)[0]
    x0, y0 = x0 - offset[0], y0 - offset[1]
    h, w = image.shape[:2]
    ix0, iy0 = int(np.floor(x0)), int(np.floor(y0))
    ix1, iy1 = max(int(np.ceil(x0 + side)), ix0 + 1), max(int(np.ceil(y0 + side)), iy0 + 1)
    # the part inside the image, then flat grey for the rest
    cx0, cy0 = min(max(ix0, 0), w - 1), min(max(iy0, 0), h - 1)
    cx1, cy1 = max(min(ix1, w), cx0 + 1), max(min(iy1, h), cy0 + 1)
    patch = image[cy0:cy1, cx0:cx1]
    pads = (max(cy0 - iy0, 0), max(iy1 - cy1, 0), max(cx0 - ix0, 0), max(ix1 - cx1, 0))
    if any(pads):
        patch = cv2.copyMakeBorder(patch, *pads, cv2.BORDER_CONSTANT, value=(FILL,) * 3)
    interp = cv2.INTER_AREA if patch.shape[0] >= size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)
