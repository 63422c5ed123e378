#!/usr/bin/env bash
# Workers for one sweep study on a Slurm cluster: an array of tasks, each `sweep worker STUDY`,
# all pointed at one PostgreSQL. The study must exist already (`sweep run SPACE.yaml` once, with
# the same SWEEP_DATABASE_URL); the space, seeds, budget and data fingerprints come from the
# database. Each task stops claiming trials a few minutes before its time limit; the trials it
# ran are recorded, and resubmitting the same array runs whatever is left.
#
#   sbatch --export=ALL,STUDY=btc-4h deploy/slurm-array.sh
#
#SBATCH --job-name=sweep-worker
#SBATCH --array=1-8
#SBATCH --cpus-per-task=2
#SBATCH --mem=2G
#SBATCH --time=02:00:00
#SBATCH --output=sweep-%A_%a.log
set -euo pipefail

: "${STUDY:?set STUDY to the study name (sbatch --export=ALL,STUDY=btc-4h ...)}"
: "${SWEEP_DATABASE_URL:?export SWEEP_DATABASE_URL (e.g. from ~/.sweep-db) before sbatch}"
# Models where every node can load them from: a bucket, or a directory on the shared filesystem.
export SWEEP_ARTIFACTS="${SWEEP_ARTIFACTS:-$HOME/sweep-artifacts}"
# The OHLCV files the study was started with (a node with other data is refused).
export SWEEP_DATA_DIR="${SWEEP_DATA_DIR:-$HOME/data}"
# Node-local scratch for local model copies: nothing shared between tasks.
export SWEEP_HOME="${TMPDIR:-/tmp}/sweep-${SLURM_ARRAY_JOB_ID}-${SLURM_ARRAY_TASK_ID}"

# Stop claiming 5 minutes before the time limit, so the last trial finishes and is recorded.
limit_s=$(squeue -h -j "$SLURM_JOB_ID" -o %L | awk -F'[-:]' '
  NF==4 {print (($1*24+$2)*60+$3)*60+$4; next}
  NF==3 {print ($1*60+$2)*60+$3; next}
  NF==2 {print $1*60+$2; next}')
timeout_s=$(( ${limit_s:-7200} > 600 ? ${limit_s:-7200} - 300 : ${limit_s:-7200} / 2 ))

exec sweep worker "$STUDY" --jobs "${SLURM_CPUS_PER_TASK:-1}" --timeout "$timeout_s" --no-progress
