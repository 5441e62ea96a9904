"""Cost of one image evaluation at 8x8: building the evaluator (classifier, reference), one call on real
images, and the real-data row; wall and CPU seconds (CPU: what it costs a core on a shared machine).
usage: eval_cost.py DATASET EVAL_SAMPLES [THREADS]"""

import sys
import time

import torch

from ganbench.data import DataOptions, load_dataset
from ganbench.data.images import to_unit_range
from ganbench.metrics.evaluate import create_evaluator


def main() -> None:
    name, n = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    ds = load_dataset(name, DataOptions(image_size=8))
    t = time.perf_counter()
    ev = create_evaluator(ds, eval_samples=n)
    print(f"{name} n={n}: evaluator built in {time.perf_counter() - t:.1f} s "
          f"(classifier held-out accuracy {ev.domain.info['test_accuracy']:.4f} on {ev.domain.info['test_size']}; "
          f"mode label accuracy {ev.mode_label_accuracy:.4f})", flush=True)
    g = torch.Generator().manual_seed(1)
    samples = to_unit_range(ds.images_at(torch.randint(len(ds), (n,), generator=g)))
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        out = ev(samples)
        print(f"  one evaluation: wall {time.perf_counter() - t:.2f} s, CPU {time.process_time() - c:.2f} s",
              {k: round(v, 4) for k, v in out.items()}, flush=True)
    for m in ("fid", "kid", "prc"):
        ev.options["metrics"] = (m,)
        t, c = time.perf_counter(), time.process_time()
        ev(samples)
        print(f"  only {m} (+ features, modes): wall {time.perf_counter() - t:.2f} s, "
              f"CPU {time.process_time() - c:.2f} s", flush=True)
    ev.options["metrics"] = ("fid", "kid", "prc")
    t = time.perf_counter()
    real = ev.real_scores(repeats=3)
    print(f"  real_scores(3): {time.perf_counter() - t:.1f} s", {k: [round(x, 4) for x in v] for k, v in real.items()},
          flush=True)


if __name__ == "__main__":
    main()
