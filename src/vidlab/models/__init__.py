"""Video backbones with one interface (see `vidlab.models.base.VideoBackbone`) and a registry of
named variants (`vidlab.models.registry`)."""
