#!/usr/bin/env bash
# `make bench`: capacity benchmark of the all-in-one stack, the same load against every
# configuration of scripts/bench/configs/ (the roles' defaults, the guide followed by hand, ...),
# each in a fresh local container removed afterwards (scripts/bench/bench.py; docs/benchmark.md
# explains the figures). Results: .cache/bench/results.{json,md} and the same pair named after
# the run, connections.png. Exit status 1 when a judged configuration falls below a floor.
# Arguments go to bench.py (e.g. --only tuned, --connections 5000; see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$root/collections"
scripts/setup-venv.sh
# matplotlib for the plot, into the same .venv; reinstalled only when requirements-bench.txt changed.
stamp=.venv/.requirements-bench.sha256
want=$(sha256sum requirements-bench.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q -r requirements-bench.txt
  echo "$want" >"$stamp"
fi
started=$(date +%s)
status=0
python scripts/bench/bench.py "$@" || status=$?
echo "bench: wall time $(( $(date +%s) - started )) s"
exit "$status"
