#!/usr/bin/env bash
# Run every Molecule scenario (`molecule test`), in parallel lanes (default: one per core, at most
# 2). Each lane has its own apt/pip download cache (ASGI_TEST_CACHE), shared by the scenarios the
# lane runs one after the other, so no two apt runs ever share a lock. Scenarios are taken longest
# first from one queue. Each scenario's output goes to .cache/logs/molecule-<scenario>.log; the
# tail of a failed one is printed, and last of all the tests that failed. Exit status: 0 only when every scenario passed.
#
# usage: scripts/molecule-all.sh [SCENARIO ...]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
export PATH="$root/.venv/bin:$PATH"
lanes=${ASGI_TEST_LANES:-$(( $(nproc) < 2 ? 1 : 2 ))}
cache_root=${ASGI_TEST_CACHE_ROOT:-/var/cache/asgi-channels-test}
logs="$root/.cache/logs"
mkdir -p "$logs"

# Longest first, so that the lanes end close together; scenarios not named here come last.
order=(cluster default project daphne faults nginx supervisor redis)
if [ $# -gt 0 ]; then
  scenarios=("$@")
else
  mapfile -t found < <(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -rn1 basename | sort)
  scenarios=()
  for s in "${order[@]}"; do
    printf '%s\n' "${found[@]}" | grep -qx "$s" && scenarios+=("$s")
  done
  for s in "${found[@]}"; do
    printf '%s\n' "${order[@]}" | grep -qx "$s" || scenarios+=("$s")
  done
fi
[ ${#scenarios[@]} -gt 0 ] || { echo "molecule-all: no scenario found" >&2; exit 1; }

queue=$(mktemp) results=$(mktemp)
printf '%s\n' "${scenarios[@]}" >"$queue"

next_scenario() {
  # shellcheck disable=SC2016  # $1 is expanded by the inner bash, not here
  flock "$queue" bash -c 'head -n 1 "$1"; sed -i 1d "$1"' next_scenario "$queue"
}

worker() {
  local lane=$1 scenario start rc
  export ASGI_TEST_CACHE="$cache_root/lane$lane"
  mkdir -p "$ASGI_TEST_CACHE"/{bookworm,trixie}/{apt,pip}
  while scenario=$(next_scenario) && [ -n "$scenario" ]; do
    start=$(date +%s)
    echo "molecule-all: [lane $lane] $scenario started"
    molecule test -s "$scenario" >"$logs/molecule-$scenario.log" 2>&1
    rc=$?
    echo "$scenario $rc $(( $(date +%s) - start ))" >>"$results"
    echo "molecule-all: [lane $lane] $scenario $( [ $rc -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start )) s"
  done
}

for lane in $(seq 1 "$lanes"); do
  worker "$lane" &
done
wait

failed=0
echo "molecule-all: summary (scenario, exit code, seconds)"
sort "$results" | sed 's/^/  /'
while read -r scenario rc _; do
  if [ "$rc" != 0 ]; then
    failed=1
    echo "---- last 80 lines of $logs/molecule-$scenario.log ----"
    tail -n 80 "$logs/molecule-$scenario.log"
  fi
done <"$results"
ran=$(wc -l <"$results")
nfailed=$(awk '$2 != 0' "$results" | wc -l)
[ "$ran" -eq ${#scenarios[@]} ] || failed=1
rm -f "$queue" "$results"
echo "molecule: $(( ran - nfailed )) passed, $(( ${#scenarios[@]} - ran + nfailed )) failed"
# Last, where a short tail of the output still shows it: which tests failed (pytest's summary).
for scenario in "${scenarios[@]}"; do
  log="$logs/molecule-$scenario.log"
  [ -f "$log" ] || continue
  # Molecule wraps its output: an entry of pytest's summary ("FAILED path::test - message") spans
  # lines until the next entry or the closing "===" line.
  sed 's/\x1b\[[0-9;]*m//g; s/^ *│ *//' "$log" | awk '
    /short test summary info/ { inside = 1; next }
    inside && (/^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)/ || /^=+ /) {
      if (entry ~ /^(FAILED|ERROR)/) print entry
      entry = ""
      if (/^=+ /) { inside = 0; next }
    }
    # a line of 60 characters or more without a space was a long name cut in two: no space there
    inside { entry = entry (entry == "" || (length(last) >= 60 && last !~ / /) ? "" : " ") $0; last = $0 }
  ' | cut -c1-300 | head -n 10 | sed "s/^/molecule: $scenario: /"
done
exit $failed
