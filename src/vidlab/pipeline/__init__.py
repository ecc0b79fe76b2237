"""The stream runtime: source -> decode -> detect -> track -> analyze -> sinks over bounded queues.

`vidlab.pipeline.types` holds the records every stage passes on; it is light (numpy only) so that
analytics, sinks and scoring code can import it without torch.
"""
