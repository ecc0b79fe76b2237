"""vidlab data: readers, samplers, transforms, datasets and datamodules."""
