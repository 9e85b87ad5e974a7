"""A small distributed data-parallel training job for Chase: one process per rank, torch.distributed
(gloo, CPU), a linear model wrapped in DistributedDataParallel, chase_reporter.step() every step.

Start it as torchrun does — one process per rank with the env:// variables — each rank under its
node's `chase-agent run`:

    RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 LOCAL_WORLD_SIZE=1 GROUP_RANK=0 MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 \\
        chase-agent run --json -- python3 train_distributed.py --steps 400
    (and RANK=1 … GROUP_RANK=1 on the second node)

or `torchrun --nnodes 2 --nproc-per-node 1 … train_distributed.py` under `chase-agent run` on each
node. The ranks then share one power-limit decision (docs/distributed.md).

Each step also sleeps --step-ms, scaled by the simulated GPUs' relative throughput when the agent
writes it (CHASE_SIM_THROUGHPUT_FILE), so that a lower limit slows the job down as a real GPU would;
DDP's gradient all-reduce makes every rank wait for the slowest, as synchronous data parallelism does.

    --no-ddp               ranks do not synchronise their steps (tests of uneven step counts)
    --stop-rank R --stop-at N   rank R stops stepping after step N and waits for --wait-file (tests)
    --report-json PATH     write this rank's coordination, decisions and rounds to PATH ({rank} is replaced)
"""

import argparse
import json
import os
import sys
import time
from datetime import timedelta

import torch
import torch.distributed as dist

import chase_reporter
from train_demo import relative_throughput  # the simulated GPUs' speed (same folder)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--step-ms", type=float, default=10.0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--no-ddp", action="store_true")
    p.add_argument("--stop-rank", type=int, default=-1)
    p.add_argument("--stop-at", type=int, default=0)
    p.add_argument("--wait-file", default="")
    p.add_argument("--report-json", default="")
    p.add_argument("--timeout-s", type=float, default=120.0, help="the job's own process group timeout")
    p.add_argument("--exit-code", type=int, default=0)
    args = p.parse_args()

    dist.init_process_group("gloo", timeout=timedelta(seconds=args.timeout_s))
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(rank)
    torch.set_num_threads(1)
    model = torch.nn.Linear(16, 4)
    if not args.no_ddp:
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    path = os.environ.get("CHASE_SIM_THROUGHPUT_FILE", "")
    cache = {}
    print("rank %d of %d: training %d steps" % (rank, world, args.steps), flush=True)
    stop_at = args.stop_at if rank == args.stop_rank else 0
    done = 0
    for step in range(1, args.steps + 1):
        if stop_at and step > stop_at:
            break
        x = torch.randn(args.batch, 16)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        time.sleep(args.step_ms / 1000.0 / relative_throughput(path, cache))
        chase_reporter.step(samples=args.batch)
        done = step
    if stop_at and args.wait_file:
        deadline = time.monotonic() + 120
        while not os.path.exists(args.wait_file) and time.monotonic() < deadline:
            time.sleep(0.05)
    if args.report_json:
        report = {"rank": rank, "steps": done, "coordination": chase_reporter.coordination(), "decisions": chase_reporter.decisions()}
        coord = chase_reporter._coord
        report["rounds"] = list(coord.trace) if coord is not None else []
        with open(args.report_json.replace("{rank}", str(rank)), "w") as f:
            json.dump(report, f)
    print("rank %d: training finished after %d steps" % (rank, done), flush=True)
    sys.stdout.flush()
    # no destroy_process_group(): with uneven ranks its barrier would wait for a rank that stopped
    sys.exit(args.exit_code)


if __name__ == "__main__":
    main()
