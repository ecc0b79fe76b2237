"""How much does Python work in another thread slow a PyAV decode loop? Times one decode loop alone,
beside a spinning Python thread, and beside a spinning Python process (the stream runtime's
threads-or-processes question).

    OMP_NUM_THREADS=1 python benchmarks/decode_gil.py [video] [--repeats 3]

Both take a core; only the thread also competes for the GIL, which the loop needs back for every
frame (a busy thread yields it once per switch interval, 5 ms), so the difference between the two
columns is the cost of running the decoder as a thread beside Python stages. The video defaults to benchmarks/stream_throughput.py's cached clip.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import threading
import time
from pathlib import Path

import av
from rich.console import Console
from rich.table import Table


def decode(video: Path) -> float:
    start = time.perf_counter()
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        for _ in container.decode(stream):
            pass
    return time.perf_counter() - start


def spin(stop) -> None:
    while not stop.is_set():
        pass


def main() -> None:
    default = Path(tempfile.gettempdir()) / "vidlab_bench" / "scene_0_600.mp4"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", nargs="?", type=Path, default=default)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    table = Table(title=f"decode {args.video.name}, seconds (best of {args.repeats})")
    for col in ("alone", "beside a spinning thread", "beside a spinning process"):
        table.add_column(col, justify="right")
    best = [float("inf")] * 3
    for _ in range(args.repeats):
        best[0] = min(best[0], decode(args.video))
        stop = threading.Event()
        t = threading.Thread(target=spin, args=(stop,))
        t.start()
        best[1] = min(best[1], decode(args.video))
        stop.set()
        t.join()
        pstop = mp.get_context("spawn").Event()
        p = mp.get_context("spawn").Process(target=spin, args=(pstop,))
        p.start()
        time.sleep(0.5)  # the child is spinning before we time
        best[2] = min(best[2], decode(args.video))
        pstop.set()
        p.join()
    table.add_row(*(f"{b:.2f}" for b in best))
    Console().print(table)


if __name__ == "__main__":
    main()
