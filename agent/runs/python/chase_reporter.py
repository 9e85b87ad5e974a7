"""Chase progress reporter: tells the Chase agent how much training work is done.

Standard library only. The Chase agent starts your job with two environment variables:

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
"""

import json
import os
import socket
import sys
import time

__all__ = ["step", "enabled", "lightning_callback", "hf_callback"]

_sock = None
_disabled = False


def enabled():
    """True when this process was started by Chase and reporting has not failed."""
    return not _disabled and bool(os.environ.get("CHASE_REPORTER")) and bool(os.environ.get("CHASE_RUN_TOKEN"))


def _warn(message):
    global _disabled
    _disabled = True
    sys.stderr.write("chase_reporter: %s; progress reporting is off for this run.\n" % message)


def _connect():
    where = os.environ["CHASE_REPORTER"]
    if where.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(where[len("unix:"):])
    elif where.startswith("tcp:"):
        host, _, port = where[len("tcp:"):].rpartition(":")
        s = socket.create_connection((host, int(port)), timeout=2)
    else:
        raise ValueError("CHASE_REPORTER must start with unix: or tcp: (got %r)" % where)
    s.settimeout(2)
    hello = {"token": os.environ["CHASE_RUN_TOKEN"], "event": "hello", "pid": os.getpid()}
    s.sendall((json.dumps(hello) + "\n").encode())
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    answer = json.loads(reply.decode() or "{}")
    if not answer.get("ok"):
        s.close()
        raise PermissionError(answer.get("error", "the agent closed the connection"))
    return s


def step(samples=None, steps=1):
    """Reports `steps` finished optimizer steps covering `samples` training samples."""
    global _sock
    if not enabled():
        return
    try:
        if _sock is None:
            _sock = _connect()
        event = {"event": "step", "steps": steps, "t": time.time()}
        if samples is not None:
            event["samples"] = samples
        _sock.sendall((json.dumps(event) + "\n").encode())
    except Exception as e:  # never break training because of reporting
        _warn("%s: %s" % (type(e).__name__, e))
        try:
            if _sock is not None:
                _sock.close()
        finally:
            _sock = None


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
