"""vidlab: a config-driven research framework for video understanding, Re-ID and tracking.

Importing the package is cheap on purpose: no torch, no Lightning. Heavy modules are imported by
the task that needs them, so light commands (MOT metrics, dataset checks) start fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
