#!/bin/sh
# Slurm Prolog for Chase: before a job starts on this node, its GPUs must be at the limits they had
# before any Chase run: restore what an earlier job's killed agents may have left (its epilog failed
# or was not installed). A GPU another live run holds makes the prolog fail — Slurm then drains the
# node and requeues the job, rather than start it on a throttled GPU.
#
#   slurm.conf:  Prolog=/etc/slurm/chase-prolog.sh   (with Epilog=/etc/slurm/chase-epilog.sh)
#
# Same variables as epilog.sh (the agent's node and script, CHASE_STATE_DIR, CHASE_CLAIMS_DIR); no
# waiting: nothing of this job runs yet. The node agent itself is a system service
# (packaging/systemd/chase-agent.service, enabled at boot), not started per job.
set -u
node="${CHASE_NODE:-/usr/bin/node}"
agent="${CHASE_AGENT_JS:-/usr/local/lib/chase/dist/agent.js}"
export CHASE_STATE_DIR="${CHASE_STATE_DIR:-/var/lib/chase-agent}"
export CHASE_CLAIMS_DIR="${CHASE_CLAIMS_DIR:-/run/lock}"
gpus="${SLURM_JOB_GPUS:-${CUDA_VISIBLE_DEVICES:-}}"
[ -n "$gpus" ] || exit 0
CUDA_VISIBLE_DEVICES="$gpus" exec "$node" "$agent" restore --wait-s 0
