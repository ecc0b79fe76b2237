"""Person detection data: COCO-format, MOTChallenge and synthetic sources, box-aware transforms,
and a datamodule (`DetectionDataModule`)."""
