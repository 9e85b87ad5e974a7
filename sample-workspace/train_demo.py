"""A stand-in training job for Chase demos and tests: no GPU, no dependencies.

It "trains" for --epochs epochs of --steps steps, printing a tqdm-style progress bar. When Chase runs
it on simulated GPUs, the agent writes the simulated GPUs' relative throughput (1.0 at the maximum
power limit) to the file named by CHASE_SIM_THROUGHPUT_FILE; each step then takes
--step-ms / throughput milliseconds, so lowering the power limit visibly slows the job down, as it
would on a real GPU. With --reporter it also reports each step through chase_reporter.

    python train_demo.py --epochs 2 --steps 200 --step-ms 20
"""

import argparse
import json
import os
import sys
import time


def relative_throughput(path, cache):
    """Reads the agent's throughput file when it changed; 1.0 when there is none."""
    if not path:
        return 1.0
    try:
        mtime = os.stat(path).st_mtime_ns
        if mtime != cache.get("mtime"):
            with open(path) as f:
                cache["value"] = float(json.load(f)["relativeThroughput"])
            cache["mtime"] = mtime
    except (OSError, ValueError, KeyError):
        pass
    return max(0.05, cache.get("value", 1.0))


def bar(done, total, width=20):
    filled = int(width * done / total) if total else 0
    return "#" * filled + " " * (width - filled)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--step-ms", type=float, default=20.0)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--reporter", action="store_true", help="also report steps through chase_reporter")
    p.add_argument("--exit-code", type=int, default=0, help="exit with this code at the end (tests)")
    args = p.parse_args()

    reporter = None
    if args.reporter:
        import chase_reporter as reporter

    path = os.environ.get("CHASE_SIM_THROUGHPUT_FILE", "")
    cache = {}
    for epoch in range(args.epochs):
        start = time.monotonic()
        for step in range(1, args.steps + 1):
            time.sleep(args.step_ms / 1000.0 / relative_throughput(path, cache))
            if reporter:
                reporter.step(samples=args.batch)
            if step % 5 == 0 or step == args.steps:
                elapsed = time.monotonic() - start
                rate = step / elapsed if elapsed > 0 else 0.0
                left = (args.steps - step) / rate if rate > 0 else 0.0
                pct = int(100 * step / args.steps)
                sys.stdout.write(
                    "\rEpoch %d: %3d%%|%s| %d/%d [%02d:%02d<%02d:%02d, %.2fit/s]"
                    % (epoch, pct, bar(step, args.steps), step, args.steps, elapsed // 60, elapsed % 60, left // 60, left % 60, rate)
                )
                sys.stdout.flush()
        sys.stdout.write("\n")
    print("training finished: %d epochs x %d steps" % (args.epochs, args.steps))
    sys.exit(args.exit_code)


if __name__ == "__main__":
    main()
