"""Dataset layouts (one index class per layout) and the clip dataset that decodes them.

Layout modules (`ucf101`, `hmdb51`, `kinetics`, `ssv2`, `generic`) and `records` import neither
torch nor a decoder, so light tasks (the dataset check) can read layouts quickly.
"""

from __future__ import annotations
