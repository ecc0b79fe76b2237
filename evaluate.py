"""`python evaluate.py [overrides]`: composes configs/evaluate.yaml; the work is in vidlab.tasks."""

from pathlib import Path

from vidlab.tasks import main

if __name__ == "__main__":
    main("evaluate", Path(__file__).parent / "configs")
