"""`python export.py [overrides]`: composes configs/export.yaml; the work is in vidlab.tasks."""

from pathlib import Path

from vidlab.tasks import main

if __name__ == "__main__":
    main("export", Path(__file__).parent / "configs")
