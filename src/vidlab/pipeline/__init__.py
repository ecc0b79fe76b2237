"""The stream runtime: source -> decode -> detect -> track -> analyze -> sinks over bounded queues.

`vidlab.pipeline.types` holds the records every stage passes on; it is light (numpy only) so that
analytics, sinks and scoring code can import it without torch. Embedding the runtime::

    from vidlab.pipeline import Pipeline

    pipeline = Pipeline.from_config(cfg)      # a composed `task=stream` config
    for result in pipeline:                   # vidlab.pipeline.types.FrameResult
        ...
    metrics = pipeline.report()["metrics"]
"""

__all__ = ["Pipeline", "StreamOptions"]


def __getattr__(name: str):
    # `Pipeline` is loaded on first use, so that importing `vidlab.pipeline.types` stays light.
    if name in __all__:
        from vidlab.pipeline import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'vidlab.pipeline' has no attribute {name!r}")
