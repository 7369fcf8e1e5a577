#!/bin/bash
# Queues a partitioned supervisor run on Slurm: an array of N partitions, and the merge that
# runs when all of them succeeded.
#
#   OUT=/shared/run1 deploy/slurm/submit.sh 8 hash /shared/data
#
# Prints "ARRAY_JOB_ID MERGE_JOB_ID"; the result is OUT/merged.sums (FORMAT=json for json).
# Extra sbatch options (partition, account, time, --cpus-per-task) go in SBATCH_ARGS.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: OUT=DIR $0 N JOB [JOB ARGS...]" >&2
    exit 2
fi
: "${OUT:?set OUT to a directory on shared storage}"
n=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
read -r -a extra <<<"${SBATCH_ARGS:-}"
array=$(sbatch --parsable "${extra[@]}" --array="1-$n" \
    --export="ALL,OUT=$OUT,PARTITIONS=$n" "$here/partition.sbatch" "$@")
array=${array%%;*}
merge=$(sbatch --parsable "${extra[@]}" --dependency="afterok:$array" \
    --export="ALL,OUT=$OUT" "$here/merge.sbatch")
merge=${merge%%;*}
echo "$array $merge"
