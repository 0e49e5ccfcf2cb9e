#!/usr/bin/env bash
# Run the README's data-parallel training N times (default 20), progress bar on, and count how
# many ended in an abort: `scripts/torchrun-repeat.sh [N] [training args...]`.
# A teardown bug shows as "terminate called without an active exception" (SIGABRT, exit 1)
# after the version was published; see training/distributed.py.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
shift || true
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(train mnist --epochs 3)
torchrun=${TORCHRUN:-.venv/bin/torchrun}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
aborted=0 failed=0
for i in $(seq 1 "$runs"); do
    log="$work/run-$i.log"
    # A terminal, as a person runs it: tqdm draws its bar only there.
    script -qec "$torchrun --standalone --nproc_per_node=2 -m training ${args[*]} \
        --models-dir $work/models-$i --checkpoint-dir $work/ck-$i" /dev/null >"$log" 2>&1
    status=$?
    if grep -q "terminate called" "$log"; then
        aborted=$((aborted + 1))
        echo "run $i: aborted (exit $status)"
    elif [ "$status" -ne 0 ]; then
        failed=$((failed + 1))
        echo "run $i: failed (exit $status)"; tail -5 "$log"
    else
        echo "run $i: ok"
    fi
done
echo "torchrun-repeat: $runs runs, $aborted aborted, $failed failed otherwise"
[ "$aborted" -eq 0 ] && [ "$failed" -eq 0 ]
