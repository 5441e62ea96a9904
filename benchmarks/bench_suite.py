"""Wall time of a bundled suite (default `losses`, tuning included), run as users run it: the console script in
a fresh output folder. Keeps the output folder so its report can be committed under results/."""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import git_commit, hardware, save


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--suite", default="losses")
    ap.add_argument("--out", type=Path, default=Path("ganbench_output/bench_suite"))
    ap.add_argument("--device", default="auto")
    ap.add_argument("extra", nargs="*", help="more ganbench run arguments (after --)")
    args = ap.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    cmd = ["ganbench", "run", "--suite", args.suite, "--out", str(args.out), "--device", args.device, *args.extra]
    exe = shutil.which("ganbench") or str(Path(sys.executable).parent / "ganbench")
    start, load_before = time.perf_counter(), os.getloadavg()
    proc = subprocess.run([exe, *cmd[1:]])
    wall = time.perf_counter() - start
    # CPU time of the run and its worker processes (all reaped by then): with other work on the machine the
    # wall time stretches, the CPU time much less, so an idle wall time can be estimated from it
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    payload = {
        "benchmark": "suite wall time",
        "command": " ".join(cmd),
        "commit": git_commit(),
        "hardware": hardware(),
        "exit_code": proc.returncode,
        "wall_s": round(wall, 1),
        "wall_min": round(wall / 60, 2),
        "cpu_min": round(cpu / 60, 2),  # user + system, the driver and its workers together
        "load_average_1_5_15": {
            "start": [round(x, 2) for x in load_before],
            "end": [round(x, 2) for x in os.getloadavg()],
        },
        "cpus": os.cpu_count(),
        "targets": {"2-core CPU": "<= 60 min (losses)", "one H100": "<= 3 min"},
    }
    print(f"{' '.join(cmd)}: {wall / 60:.2f} min wall, {cpu / 60:.2f} min CPU (exit {proc.returncode})")
    import torch

    kind = "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    print(f"written {save(f'suite_{args.suite}_{kind}', payload)}")


if __name__ == "__main__":
    main()
