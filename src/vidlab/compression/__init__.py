"""Model compression: knowledge distillation, unstructured and structured pruning, quantization-
aware training.

Each module holds pure functions plus a thin Lightning callback that the ``callbacks`` config
group adds to a training run (``callbacks=distill``, ``prune_unstructured``, ``prune_structured``,
``qat``). Importing this package imports nothing heavy; import the submodules.
"""
