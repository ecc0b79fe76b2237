"""Camera motion read from a precomputed text file (BoT-SORT publishes such files for MOT17)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidlab.tracking.gmc.base import IDENTITY

_COLUMNS = 7  # frame number, then the 2x3 affine row by row


class FileMotion:
    """Affines per frame from a text file of lines ``frame a11 a12 a13 a21 a22 a23``.

    Fields are separated by whitespace or commas.

    Args:
        path: the file.
        frame_offset: added to the tracker's 1-based frame number to get the file's frame number
            (BoT-SORT's published files count from 0: use -1).

    Frames missing from the file get the identity.
    """

    def __init__(self, path: str | Path, *, frame_offset: int = 0) -> None:
        self.path = Path(path)
        self.frame_offset = frame_offset
        self._affines = read_motion_file(self.path)

    def estimate(self, frame_bgr: np.ndarray | None, frame_id: int) -> np.ndarray:
        return self._affines.get(frame_id + self.frame_offset, IDENTITY).copy()

    def reset(self) -> None:
        """The file covers the whole sequence; nothing to forget."""


def read_motion_file(path: str | Path) -> dict[int, np.ndarray]:
    """Parse a motion file into ``{frame: (2, 3) affine}``; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"camera-motion file {path} does not exist")
    out: dict[int, np.ndarray] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.replace(",", " ").split()
        if not fields:
            continue
        if len(fields) != _COLUMNS:
            raise ValueError(
                f"{path}:{lineno}: expected {_COLUMNS} numbers (frame, 2x3 affine), "
                f"got {len(fields)}"
            )
        try:
            values = [float(v) for v in fields]
        except ValueError as err:
            raise ValueError(f"{path}:{lineno}: non-numeric field in {line!r}") from err
        out[int(values[0])] = np.array(values[1:]).reshape(2, 3)
    return out


def write_motion_file(path: str | Path, affines: dict[int, np.ndarray]) -> None:
    """Write ``{frame: (2, 3) affine}`` in the format :func:`read_motion_file` reads."""
    lines = [
        " ".join([str(frame), *(f"{v:.9g}" for v in np.asarray(a, np.float64).ravel())])
        for frame, a in sorted(affines.items())
    ]
    Path(path).write_text("\n".join(lines) + "\n")
