"""UCF101 (Soomro et al., 2012): 13,320 videos of 101 actions, three official train/test splits.

Layout (the official UCF101.rar and ucfTrainTestlist.zip, unpacked):

    <root>/<Class>/v_<Class>_gXX_cYY.avi
    <annotation_dir>/classInd.txt            "1 ApplyEyeMakeup" (1-based)
    <annotation_dir>/trainlist0{1,2,3}.txt   "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"
    <annotation_dir>/testlist0{1,2,3}.txt    "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"

The test lists carry no label: it comes from the class folder, matched case-insensitively
because the official lists write the folder "HandstandPushups" and the files "v_HandStandPushups_*".
UCF101 has no validation split; configs validate on the test list, as published results do.
"""

from __future__ import annotations

from pathlib import Path

from vidlab.data.datasets.records import (
    AnnotationError,
    DatasetIndex,
    SplitIndex,
    VideoIndex,
    annotation_lines,
    require_file,
    split_found_missing,
)

SPLITS = (1, 2, 3)


class UCF101Index(VideoIndex):
    """UCF101 with the official split files.

    Args:
        root: folder holding the 101 class folders.
        annotation_dir: folder of classInd.txt and the split lists (default: root).
        split: official split, 1, 2 or 3.
    """

    name = "ucf101"

    def __init__(self, root: str | Path, annotation_dir: str | Path | None = None, split: int = 1):
        if int(split) not in SPLITS:
            raise ValueError(f"UCF101 split must be one of {SPLITS}, got {split!r}")
        self.root = Path(root)
        self.annotation_dir = Path(annotation_dir) if annotation_dir else self.root
        self.split = int(split)

    def build(self) -> DatasetIndex:
        classes = read_class_index(
            require_file(self.annotation_dir / "classInd.txt", "classInd.txt")
        )
        splits = {
            "train": self._read_list("train", f"trainlist0{self.split}.txt", classes, labeled=True),
            "test": self._read_list("test", f"testlist0{self.split}.txt", classes, labeled=False),
        }
        return DatasetIndex(self.name, self.root, tuple(classes), splits)

    def _read_list(
        self, split: str, filename: str, classes: list[str], *, labeled: bool
    ) -> SplitIndex:
        path = require_file(self.annotation_dir / filename, f"UCF101 split list {filename}")
        by_folder = {name.lower(): i for i, name in enumerate(classes)}
        entries = []
        for number, text in annotation_lines(path):
            parts = text.split()
            relative = parts[0]
            folder = relative.replace("\\", "/").split("/")[0].lower()
            if folder not in by_folder:
                raise AnnotationError(
                    path,
                    number,
                    f"class folder of {relative!r} is not in classInd.txt",
                    "'<Class>/v_<Class>_gXX_cYY.avi [label]'",
                )
            label = by_folder[folder]
            if labeled:
                if len(parts) != 2 or not parts[1].isdigit():
                    raise AnnotationError(
                        path, number, f"got {text!r}", "'<Class>/<video>.avi <class number 1..101>'"
                    )
                if int(parts[1]) - 1 != label:
                    raise AnnotationError(
                        path,
                        number,
                        f"label {parts[1]} disagrees with the "
                        f"folder {folder!r} (class {label + 1})",
                        "the classInd.txt number of the folder",
                    )
            entries.append((relative, label, self.root / relative))
        records, missing = split_found_missing(entries)
        return SplitIndex(split, records, missing, str(path))


def read_class_index(path: Path) -> list[str]:
    """Class names from classInd.txt ("<1-based index> <name>" per line, consecutive)."""
    names = []
    for number, text in annotation_lines(path):
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise AnnotationError(path, number, f"got {text!r}", "'<index> <ClassName>'")
        if int(parts[0]) != len(names) + 1:
            raise AnnotationError(
                path, number, f"index {parts[0]} out of sequence", f"index {len(names) + 1}"
            )
        names.append(parts[1])
    if not names:
        raise AnnotationError(path, None, "no classes", "one '<index> <ClassName>' line per class")
    return names
