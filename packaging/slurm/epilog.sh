#!/bin/sh
# Slurm Epilog for Chase: puts back the GPU power limits Chase left on this node's GPUs of the job
# that just ended — e.g. when the job's `chase-agent run` was killed before it could restore them.
#
#   slurm.conf:  Epilog=/etc/slurm/chase-epilog.sh
#
# slurmd runs it as SlurmdUser (normally root) on every node of the allocation when it is released,
# with SLURM_JOB_GPUS (the job's GPU IDs) and CUDA_VISIBLE_DEVICES (node-wide numbers, as the epilog
# runs outside the job's cgroup) set, and no PATH (Slurm's Prolog and Epilog Guide,
# doc/html/prolog_epilog.shtml). It restores through the agent's own mechanisms (docs/gpu.md):
# limits journaled in CHASE_STATE_DIR by agents that are gone, and GPU claims in CHASE_CLAIMS_DIR
# whose agent is gone; a GPU a live run still holds (the limits service notices the job's exit within
# a second) is waited for. A non-zero exit drains the node in Slurm: a GPU left throttled is then
# seen by an administrator instead of slowing the next job. Details: docs/distributed.md.
set -u
node="${CHASE_NODE:-/usr/bin/node}"
agent="${CHASE_AGENT_JS:-/usr/local/lib/chase/dist/agent.js}"
export CHASE_STATE_DIR="${CHASE_STATE_DIR:-/var/lib/chase-agent}"
export CHASE_CLAIMS_DIR="${CHASE_CLAIMS_DIR:-/run/lock}"
gpus="${SLURM_JOB_GPUS:-${CUDA_VISIBLE_DEVICES:-}}"
[ -n "$gpus" ] || exit 0 # a job without GPUs: nothing of Chase's to restore
CUDA_VISIBLE_DEVICES="$gpus" exec "$node" "$agent" restore --wait-s "${CHASE_RESTORE_WAIT_S:-10}"
