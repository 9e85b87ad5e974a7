"""Chase progress reporter: tells the Chase agent how much training work is done.

Standard library only (torch is used only when the job itself imported it). The Chase agent starts
your job with its folder on PYTHONPATH (so ``import chase_reporter`` works) and these variables:

    CHASE_REPORTER   where to report: "unix:/path/to.sock" or "tcp:127.0.0.1:PORT"
    CHASE_RUN_TOKEN  the run's secret token

Use it in a training loop:

    import chase_reporter
    for batch in loader:
        ...
        chase_reporter.step(samples=len(batch))

or with PyTorch Lightning (``trainer = Trainer(callbacks=[chase_reporter.lightning_callback()])``) or
Hugging Face (``Trainer(..., callbacks=[chase_reporter.hf_callback()])``).

Outside Chase (no environment variables) every call does nothing. If the agent cannot be reached or
refuses the token, one warning goes to stderr and reporting stops: training is never interrupted.

Distributed jobs (torch.distributed initialised, world size > 1, every node under a Chase agent):
the ranks make one power-limit decision for the whole job. Call ``step()`` once per optimizer step on
every rank. Every ``syncEverySteps`` steps (rank 0's agent sets it) the ranks meet in a side group of
their own (gloo, whatever backend the job uses):

    1. each node's leader (its lowest rank, the node's local rank 0) asks its agent for the node's
       energy so far; all ranks all-reduce energy per node and work done (SUM) and elapsed time (MAX);
    2. global rank 0 hands that to its agent, which alone asks the carbon source and decides;
    3. rank 0 broadcasts {decisionId, powerLimitMw, validUntilMs}; every rank has it at the same step,
       and each node's leader hands it to its own agent, which applies it to that node's GPUs.

Before the first round the ranks agree through the job's rendezvous store that all of them run
under Chase (else nobody coordinates and each node decides alone), then compare their nodes' GPUs
(mixed models or limit ranges are refused with a message). A round that a rank does not join within
CHASE_SYNC_TIMEOUT_S seconds (default 60; uneven step counts, a stopped rank) ends coordination with
one error line, and the node agents put their GPUs back: it never hangs the job.
``init_distributed()`` does the agreement and set-up at once (every rank must call it); by default it
happens at the first ``step()`` after ``torch.distributed.init_process_group``. CHASE_COORDINATE=0
turns coordination off for a rank (and so for the job).
"""

import collections
import json
import os
import random
import socket
import sys
import time

__all__ = ["step", "enabled", "lightning_callback", "hf_callback", "init_distributed", "coordination", "decisions"]

PROTOCOL_VERSION = 2
_MAX_LINE_BYTES = 64 * 1024
_DEFAULT_SYNC_TIMEOUT_S = 60.0
_REQUEST_TIMEOUT_S = 10.0
_STORE_PREFIX = "chase_reporter/v2/"
_NODE_STATUS = {0: "unreachable", 1: "permitted", 2: "advise", 3: "unreachable"}

_agent = None
_disabled = False
_steps = 0
_units = 0.0
_coord = None  # the _Coordinator once torch.distributed was seen initialised


def enabled():
    """True when this process was started by Chase and reporting has not failed."""
    return not _disabled and bool(os.environ.get("CHASE_REPORTER")) and bool(os.environ.get("CHASE_RUN_TOKEN"))


def _warn(message):
    global _disabled
    _disabled = True
    sys.stderr.write("chase_reporter: %s; progress reporting is off for this run.\n" % message)


class _Refused(Exception):
    """The agent answered a request with ok: false (the message is its own, written for the user)."""


class _Agent(object):
    """One connection to this node's agent: step lines one way, requests answered in order."""

    def __init__(self):
        where = os.environ["CHASE_REPORTER"]
        if where.startswith("unix:"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(where[len("unix:"):])
        elif where.startswith("tcp:"):
            host, _, port = where[len("tcp:"):].rpartition(":")
            s = socket.create_connection((host, int(port)), timeout=2)
        else:
            raise ValueError("CHASE_REPORTER must start with unix: or tcp: (got %r)" % where)
        s.settimeout(2)
        self._sock = s
        self._buf = b""
        self._next_id = 0
        self.send({"token": os.environ["CHASE_RUN_TOKEN"], "event": "hello", "pid": os.getpid(), "v": PROTOCOL_VERSION})
        answer = json.loads(self._readline().decode() or "{}")
        if not answer.get("ok"):
            s.close()
            raise PermissionError(answer.get("error", "the agent closed the connection"))
        self.version = answer.get("v", 1)

    def send(self, message):
        self._sock.sendall((json.dumps(message) + "\n").encode())

    def _readline(self):
        while b"\n" not in self._buf:
            if len(self._buf) > _MAX_LINE_BYTES:
                raise ValueError("the agent sent a line over %d bytes" % _MAX_LINE_BYTES)
            chunk = self._sock.recv(4096)
            if not chunk:
                raise ConnectionError("the agent closed the connection")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def request(self, op, **params):
        """Sends one request and waits (bounded) for its answer; raises _Refused with the agent's reason."""
        self._next_id += 1
        rid = self._next_id
        message = dict(params)
        message.update({"id": rid, "op": op})
        self._sock.settimeout(_REQUEST_TIMEOUT_S)
        try:
            self.send(message)
            while True:
                answer = json.loads(self._readline().decode())
                if answer.get("id") == rid:
                    if answer.get("ok"):
                        return answer
                    raise _Refused(answer.get("error") or "refused")
                if "id" not in answer and answer.get("ok") is False:  # the agent closed the connection (run ended)
                    raise ConnectionError(answer.get("error") or "the agent closed the connection")
        finally:
            self._sock.settimeout(2)

    def close(self):
        try:
            self._sock.close()
        except OSError:
            pass


def _connected_agent():
    """The connection to the agent (made on first use), or None outside Chase or after a failure."""
    global _agent
    if not enabled():
        return None
    if _agent is None:
        try:
            _agent = _Agent()
        except Exception as e:  # never break training because of reporting
            _warn("%s: %s" % (type(e).__name__, e))
            return None
    return _agent


def step(samples=None, steps=1):
    """Reports `steps` finished optimizer steps covering `samples` training samples."""
    global _agent, _steps, _units
    _steps += steps
    _units += samples if samples is not None else steps
    agent = _connected_agent()
    if agent is not None:
        try:
            event = {"event": "step", "steps": steps, "t": time.time()}
            if samples is not None:
                event["samples"] = samples
            agent.send(event)
        except Exception as e:  # never break training because of reporting
            _warn("%s: %s" % (type(e).__name__, e))
            agent.close()
            _agent = None
    _coordinate()


def _coordinate():
    """Starts coordination once torch.distributed is up, then runs a sync round every N steps. Never raises."""
    global _coord
    try:
        if _coord is None:
            dist = _initialised_dist()
            if dist is None:
                return
            _coord = _Coordinator(dist)
            _coord.start()
        _coord.after_step(_steps, _units)
    except Exception as e:  # a bug here must not stop training either
        sys.stderr.write("chase_reporter: coordination of the distributed job stopped: %s: %s\n" % (type(e).__name__, e))
        if _coord is not None:
            _coord.state = "failed"


def _initialised_dist():
    """torch.distributed when the job imported it and initialised more than one rank; never imports torch."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or "torch" not in sys.modules:
        return None
    try:
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            return dist
    except Exception:
        return None
    return None


def init_distributed():
    """Sets up coordination now (a collective: every rank must call it, after init_process_group).

    Returns True when the job's ranks coordinate one decision, False when each node decides alone
    (outside Chase, a rank opted out, coordination refused or failed). Safe to call more than once.
    """
    _coordinate()
    return _coord is not None and _coord.state == "on"


def coordination():
    """What this rank knows of the job's coordination: state ("off" | "on" | "refused" | "failed"),
    worldSize, rank, nodeRank, nodeCount, leader, jobId, syncEverySteps, rounds, overheadS, error."""
    if _coord is None:
        return {"state": "off"}
    return _coord.describe()


def decisions():
    """The decisions this rank received, in order: [{"step", "decisionId", "powerLimitMw", "validUntilMs", "kind", "intensityGPerKwh"}]."""
    return [] if _coord is None else list(_coord.decisions)


def _sync_timeout_s():
    try:
        t = float(os.environ.get("CHASE_SYNC_TIMEOUT_S", _DEFAULT_SYNC_TIMEOUT_S))
        return t if 0 < t <= 86400 else _DEFAULT_SYNC_TIMEOUT_S
    except ValueError:
        return _DEFAULT_SYNC_TIMEOUT_S


def _job_id():
    """The job's id on every node: the scheduler's, else torchrun's run id, else a random one (rank 0 broadcasts it)."""
    for name in ("SLURM_JOB_ID", "TORCHELASTIC_RUN_ID", "CHASE_JOB_ID"):
        value = os.environ.get(name, "")
        cleaned = "".join(c for c in value if c.isalnum() or c in "._:-")[:200]
        if cleaned and cleaned != "none":
            return cleaned
    return "job-%08x" % random.getrandbits(32)


def _first_line(e):
    # as long as the wire's reasons may be (1000): an agent's refusal ends with what to do about it
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:1000]


class _Coordinator(object):
    """One distributed job's coordination, seen from one rank.

    State machine: agreeing → on → (failed); agreeing → off | refused. Only "on" runs sync rounds.
    Every transition that other ranks must share is decided collectively (the store's verdict, rank
    0's plan, rank 0's broadcast); a rank leaves alone only on a collective's error or timeout, which
    the other ranks then meet too.
    """

    def __init__(self, dist):
        self.dist = dist
        self.torch = sys.modules["torch"]
        self.rank = dist.get_rank()
        self.world = dist.get_world_size()
        self.state = "agreeing"
        self.timeout_s = _sync_timeout_s()
        self.group = None
        self.leader = False
        self.node_rank = 0
        self.node_count = 1
        self.local_world = 1
        self.job_id = None
        self.sync_every = None
        self.next_sync = None
        self.error = None
        self.decisions = []
        self.last_decision_id = 0
        self.rounds = 0
        self.overhead_s = 0.0
        self.t0 = time.monotonic()
        # each round's local inputs and reduced results (the last few), for checking the aggregation
        self.trace = collections.deque(maxlen=512)

    def describe(self):
        return {
            "state": self.state, "worldSize": self.world, "rank": self.rank, "nodeRank": self.node_rank,
            "nodeCount": self.node_count, "leader": self.leader, "jobId": self.job_id,
            "syncEverySteps": self.sync_every, "rounds": self.rounds, "overheadS": self.overhead_s, "error": self.error,
        }

    # -- agreement and set-up ---------------------------------------------------------------------

    def _opted_in(self):
        if os.environ.get("CHASE_COORDINATE", "1") in ("0", "off", "false", "no"):
            return False
        agent = _connected_agent()
        if agent is None:
            return False
        if agent.version < 2:
            sys.stderr.write("chase_reporter: the Chase agent of this node speaks reporter protocol %s and cannot coordinate a distributed job: update it; each node decides alone.\n" % agent.version)
            return False
        return True

    def _agree(self, opted_in):
        """True when every rank runs under Chase: each rank counts itself in or out in the job's own store,
        and the first verdict written (compare-and-set) is everyone's. Bounded by the sync timeout."""
        store = self.dist.distributed_c10d._get_default_store()
        verdict_key = _STORE_PREFIX + "verdict"
        if not opted_in:
            store.add(_STORE_PREFIX + "out", 1)
            return store.compare_set(verdict_key, "", "0") == b"1"
        store.add(_STORE_PREFIX + "in", 1)
        proposal, pause = "0", 0.001
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if store.add(_STORE_PREFIX + "out", 0) > 0:
                break
            if store.add(_STORE_PREFIX + "in", 0) >= self.world:
                proposal = "1"
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        agreed = store.compare_set(verdict_key, "", proposal) == b"1"
        if not agreed and self.rank == 0:
            out = store.add(_STORE_PREFIX + "out", 0)
            why = ("%d of %d ranks do not run under a Chase agent (or set CHASE_COORDINATE=0)" % (out, self.world)) if out > 0 else (
                "not every rank called chase_reporter.step() within %g s of rank 0 (call it on every rank)" % self.timeout_s)
            sys.stderr.write("chase_reporter: the distributed job is not coordinated: %s; each node's agent decides alone.\n" % why)
        return agreed

    def start(self):
        if not self._agree(self._opted_in()):
            self.state = "off"
            return
        from datetime import timedelta

        try:
            self.group = self.dist.new_group(backend="gloo", timeout=timedelta(seconds=self.timeout_s))
            self._set_up()
        except Exception as e:
            self._fail(e, "while setting up")

    def _set_up(self):
        dist, group = self.dist, self.group
        # a node = the ranks that share one agent (same host and reporter address); its leader is the lowest rank
        me = (socket.gethostname(), os.environ.get("CHASE_REPORTER", ""))
        idents = [None] * self.world
        dist.all_gather_object(idents, me, group=group)
        order = []
        for ident in idents:
            if ident not in order:
                order.append(ident)
        leaders = [idents.index(ident) for ident in order]
        self.node_rank = order.index(idents[self.rank])
        self.node_count = len(order)
        self.leader = leaders[self.node_rank] == self.rank
        self.local_world = sum(1 for ident in idents if ident == idents[self.rank])
        info = None
        if self.leader:
            try:
                info = _strip(_agent.request("node"))
            except Exception as e:
                info = {"error": _first_line(e)}
        infos = [None] * self.world
        dist.all_gather_object(infos, info, group=group)
        plan = [self._plan(infos, leaders, idents, order) if self.rank == 0 else None]
        dist.broadcast_object_list(plan, src=0, group=group)
        plan = plan[0]
        self.job_id = plan["jobId"]
        self.sync_every = plan["syncEverySteps"]
        if self.leader:
            join = {
                "jobId": self.job_id, "worldSize": self.world, "nodeRank": self.node_rank, "nodeCount": self.node_count,
                "localWorldSize": self.local_world, "coordinator": self.rank == 0, "syncEverySteps": self.sync_every,
            }
            if plan.get("refused"):
                join["refused"] = plan["refused"]
            try:
                _agent.request("join", **join)
            except Exception as e:
                sys.stderr.write("chase_reporter: rank %d: this node's agent did not join job %s: %s\n" % (self.rank, self.job_id, _first_line(e)))
        if plan.get("refused"):
            self.state = "refused"
            self.error = plan["refused"]
            if self.rank == 0:
                sys.stderr.write("chase_reporter: the distributed job is not coordinated: %s\n" % plan["refused"])
            return
        self.state = "on"
        self.t0 = time.monotonic()
        self.next_sync = (_steps // self.sync_every + 1) * self.sync_every

    def _plan(self, infos, leaders, idents, order):
        """Rank 0: the job's nodes for its agent, which checks them and answers the cadence (or refuses)."""
        job_id = _job_id()
        nodes, problems = [], []
        for node_rank, leader in enumerate(leaders):
            info = infos[leader]
            if not isinstance(info, dict) or "error" in info:
                problems.append("node %d (rank %d): %s" % (node_rank, leader, (info or {}).get("error", "no answer from its agent")))
                continue
            entry = dict(info)
            entry.update({"nodeRank": node_rank, "ranks": sum(1 for ident in idents if ident == order[node_rank])})
            nodes.append(entry)
        if problems:
            return {"jobId": job_id, "syncEverySteps": 1, "refused": "a node's agent cannot take part: " + "; ".join(problems)[:900]}
        try:
            answer = _agent.request("job", jobId=job_id, worldSize=self.world, nodes=nodes)
            return {"jobId": job_id, "syncEverySteps": int(answer["syncEverySteps"])}
        except Exception as e:
            return {"jobId": job_id, "syncEverySteps": 1, "refused": _first_line(e)}

    # -- sync rounds --------------------------------------------------------------------------------

    def after_step(self, steps, units):
        if self.state != "on" or steps < self.next_sync:
            return
        self.next_sync = (steps // self.sync_every + 1) * self.sync_every
        started = time.perf_counter()
        try:
            self._round(steps, units)
        except Exception as e:
            self._fail(e, "at step %d" % steps)
        finally:
            self.rounds += 1
            self.overhead_s += time.perf_counter() - started

    def _round(self, steps, units):
        dist, torch, group = self.dist, self.torch, self.group
        f64 = torch.float64
        # SUM: [units of every rank, then per node: energyMj, status] — only a node's leader fills its slot
        summed = torch.zeros(1 + 2 * self.node_count, dtype=f64)
        summed[0] = units
        if self.leader:
            slot = 1 + 2 * self.node_rank
            try:
                answer = _agent.request("energy", step=steps)
                summed[slot] = float(answer["energyMj"])
                summed[slot + 1] = 1 if answer.get("control") == "permitted" else 2
            except Exception:
                summed[slot + 1] = 3
        local = {"step": steps, "units": float(units), "elapsedS": time.monotonic() - self.t0}
        if self.leader:
            local["energyMj"] = float(summed[1 + 2 * self.node_rank])
        slowest = torch.tensor([local["elapsedS"]], dtype=f64)
        dist.all_reduce(summed, op=dist.ReduceOp.SUM, group=group)
        dist.all_reduce(slowest, op=dist.ReduceOp.MAX, group=group)
        local.update({"sumUnits": float(summed[0]), "maxElapsedS": float(slowest[0]), "nodeEnergyMj": [float(summed[1 + 2 * k]) for k in range(self.node_count)]})
        self.trace.append(local)
        # rank 0's agent decides; the broadcast is [decisionId, powerLimitMw, validUntilMs, stop, kind (1: profile), intensity]
        decided = torch.zeros(6, dtype=f64)
        stop_reason = None
        if self.rank == 0:
            nodes = [{"energyMj": float(summed[1 + 2 * k]), "status": _NODE_STATUS.get(int(summed[2 + 2 * k]), "unreachable")} for k in range(self.node_count)]
            try:
                answer = _agent.request("decide", step=steps, elapsedS=float(slowest[0]), units=float(summed[0]), nodes=nodes)
                decision = answer.get("decision")
                if decision:
                    decided[0], decided[1], decided[2] = decision["decisionId"], decision["powerLimitMw"], decision["validUntilMs"]
                    decided[4], decided[5] = (1 if decision.get("kind") == "profile" else 0), decision.get("intensityGPerKwh", 0)
            except Exception as e:
                decided[3] = 1
                stop_reason = "rank 0's agent could not decide: %s" % _first_line(e)
        dist.broadcast(decided, 0, group=group)
        if decided[3] > 0:
            self._stop(stop_reason or "rank 0's agent could not decide (see rank 0's output)", steps, quiet=self.rank != 0)
            return
        decision_id = int(decided[0])
        if decision_id > self.last_decision_id:
            self.last_decision_id = decision_id
            d = {
                "step": steps, "decisionId": decision_id, "powerLimitMw": int(decided[1]), "validUntilMs": int(decided[2]),
                "kind": "profile" if decided[4] > 0 else "control", "intensityGPerKwh": float(decided[5]),
            }
            self.decisions.append(d)
            if self.leader:
                try:
                    _agent.request("apply", **d)
                except Exception as e:
                    sys.stderr.write("chase_reporter: rank %d: this node's agent did not apply decision %d: %s\n" % (self.rank, decision_id, _first_line(e)))

    def _fail(self, e, where):
        text = _first_line(e)
        timed_out = "timed out" in text.lower() or "timeout" in text.lower()
        cause = ("the other ranks did not join a sync round within %g s" % self.timeout_s) if timed_out else "a rank left the job's side group"
        self._stop(
            "%s %s (gloo: %s). Every rank must call chase_reporter.step() once per optimizer step, the same number of times"
            % (cause, where, text),
            _steps,
        )

    def _stop(self, reason, steps, quiet=False):
        self.state = "failed"
        self.error = reason
        if not quiet:
            sys.stderr.write("chase_reporter: rank %d: coordination of the distributed job stopped: %s. Training goes on; the node agents put their GPUs back to their limits.\n" % (self.rank, reason))
        if self.leader and _agent is not None:
            try:
                _agent.request("leave", step=steps, error=reason[:1000])
            except Exception:
                pass


def _strip(answer):
    """An answer without its envelope (id, ok)."""
    return {k: v for k, v in answer.items() if k not in ("id", "ok")}


def _batch_size(batch):
    """Samples in a batch: the first dimension of its first tensor, or None when unknown."""
    if hasattr(batch, "shape") and len(batch.shape) > 0:
        return int(batch.shape[0])
    if isinstance(batch, (list, tuple)) and batch:
        return _batch_size(batch[0])
    if isinstance(batch, dict) and batch:
        return _batch_size(next(iter(batch.values())))
    return None


def lightning_callback():
    """A PyTorch Lightning callback reporting every training batch."""
    try:
        from lightning.pytorch.callbacks import Callback
    except ImportError:
        from pytorch_lightning.callbacks import Callback

    class ChaseCallback(Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            step(samples=_batch_size(batch))

    return ChaseCallback()


def hf_callback():
    """A Hugging Face transformers TrainerCallback reporting every optimizer step."""
    from transformers import TrainerCallback

    class ChaseCallback(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            per_step = args.train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
            step(samples=per_step)

    return ChaseCallback()
