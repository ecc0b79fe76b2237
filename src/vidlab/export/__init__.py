"""Deployable artifacts (ONNX, ...) of trained networks, each checked for numerical parity."""
