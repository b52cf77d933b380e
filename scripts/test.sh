#!/usr/bin/env bash
# `make test`, as CI runs it: the other checks (lint, unit, build-check, importer, sanity, then
# browser-check) run beside the Molecule lanes instead of before and after them: a few minutes,
# most of it sanity's first environments and installing Chromium, one after the other in one
# group. `make setup images` has run before (the Makefile's prerequisites), so the two groups never
# build the .venv or the images at once, and the browser check's demo container has its own name,
# port and apt cache. The group's output goes to .cache/logs/static.log, its tail is printed when
# one check failed.
# Exit status: 0 only when everything passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
mkdir -p .cache/logs
log=.cache/logs/static.log
started=$(date +%s)
make --no-print-directory lint unit build-check importer sanity browser-check >"$log" 2>&1 &
static=$!
make --no-print-directory molecule
molecule=$?
wait "$static"
checks=$?
echo "test: checks (lint unit build-check importer sanity browser-check) $([ "$checks" -eq 0 ] && echo passed || echo FAILED)," \
  "log $log; molecule $([ "$molecule" -eq 0 ] && echo passed || echo FAILED); $(( $(date +%s) - started )) s"
if [ "$checks" -ne 0 ]; then
  tail -n 60 "$log"
fi
[ "$molecule" -eq 0 ] && [ "$checks" -eq 0 ]
