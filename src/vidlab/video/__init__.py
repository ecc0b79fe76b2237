"""Whole-video analysis: shot boundaries, adaptive frame sampling, keyframes and summaries, optical
flow. Frames come from `vidlab.data.io.stream` (sequential, bounded memory)."""
