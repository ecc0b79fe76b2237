"""Tracker implementations; see :func:`vidlab.tracking.create_tracker` for the names."""
