"""Deployable artifacts of trained networks, each checked against the eager model.

Formats (`formats.FORMATS`): ONNX, TorchScript, torch.export programs, int8 ONNX (ONNX Runtime
static quantization), PT2E int8, dynamic int8 of Linear layers, OpenVINO IR. `bundle` writes the
card that goes with each; `inference.classify_video` serves any bundle on a video file.
"""
