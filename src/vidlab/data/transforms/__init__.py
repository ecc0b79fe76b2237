"""Video transforms: uint8 frames (T, H, W, C) in, normalised float32 (C, T, H, W) out.

`functional` holds the pure operations, `video` the train / eval pipelines built from them,
`mix` batch-level Mixup / CutMix. pytorchvideo's transforms are imported only through `_compat`.
"""

from __future__ import annotations
