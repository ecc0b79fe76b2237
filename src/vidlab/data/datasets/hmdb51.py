"""HMDB51 (Kuehne et al., 2011): 6,766 clips of 51 actions, three official splits.

Layout (hmdb51_org.rar and test_train_splits.rar, unpacked):

    <root>/<class>/<video>.avi
    <annotation_dir>/<class>_test_split{1,2,3}.txt   "<video>.avi <id>" with id 1 = train,
                                                     2 = test, 0 = not used in this split

Classes are numbered in sorted order of their names (the convention of mmaction2 and
PySlowFast). HMDB51 has no validation split; configs validate on the test split.
"""

from __future__ import annotations

import re
from pathlib import Path

from vidlab.data.datasets.records import (
    AnnotationError,
    DatasetIndex,
    SplitIndex,
    VideoIndex,
    annotation_lines,
    split_found_missing,
)

SPLITS = (1, 2, 3)
# Split file ids: which split a video belongs to.
TRAIN_ID, TEST_ID, UNUSED_ID = "1", "2", "0"


class HMDB51Index(VideoIndex):
    """HMDB51 with the official split files.

    Args:
        root: folder holding the 51 class folders.
        annotation_dir: folder of the `<class>_test_split<k>.txt` files (default: root).
        split: official split, 1, 2 or 3.
    """

    name = "hmdb51"

    def __init__(self, root: str | Path, annotation_dir: str | Path | None = None, split: int = 1):
        if int(split) not in SPLITS:
            raise ValueError(f"HMDB51 split must be one of {SPLITS}, got {split!r}")
        self.root = Path(root)
        self.annotation_dir = Path(annotation_dir) if annotation_dir else self.root
        self.split = int(split)

    def build(self) -> DatasetIndex:
        pattern = re.compile(rf"^(?P<cls>.+)_test_split{self.split}\.txt$")
        files = sorted(
            (m.group("cls"), p)
            for p in self.annotation_dir.glob(f"*_test_split{self.split}.txt")
            if (m := pattern.match(p.name))
        )
        if not files:
            raise FileNotFoundError(
                f"no HMDB51 split files '<class>_test_split{self.split}.txt' "
                f"in {self.annotation_dir}"
            )
        classes = [name for name, _ in files]
        entries: dict[str, list] = {TRAIN_ID: [], TEST_ID: []}
        for label, (name, path) in enumerate(files):
            for number, text in annotation_lines(path):
                parts = text.split()
                if len(parts) != 2 or parts[1] not in (TRAIN_ID, TEST_ID, UNUSED_ID):
                    raise AnnotationError(path, number, f"got {text!r}", "'<video>.avi <0|1|2>'")
                if parts[1] != UNUSED_ID:
                    entries[parts[1]].append(
                        (f"{name}/{parts[0]}", label, self.root / name / parts[0])
                    )
        source = str(self.annotation_dir / f"*_test_split{self.split}.txt")
        splits = {
            split: SplitIndex(split, *split_found_missing(entries[split_id]), annotation=source)
            for split, split_id in (("train", TRAIN_ID), ("test", TEST_ID))
        }
        return DatasetIndex(self.name, self.root, tuple(classes), splits)
