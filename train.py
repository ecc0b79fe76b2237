"""`python train.py [overrides]`: composes configs/train.yaml; the work is in vidlab.tasks."""

from pathlib import Path

from vidlab.tasks import main

if __name__ == "__main__":
    main("train", Path(__file__).parent / "configs")
