#!/usr/bin/env bash
# `make test`, as CI runs it: the static checks (lint, unit, build-check, importer, sanity) run
# beside the Molecule lanes instead of before them (they take minutes, mostly sanity's first
# environments, while the lanes mostly wait on containers), then browser-check. `make setup images`
# has run before (the Makefile's prerequisites), so the two never build the .venv at once. The
# static checks' output goes to .cache/logs/static.log, its tail is printed when one failed.
# Exit status: 0 only when everything passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
mkdir -p .cache/logs
log=.cache/logs/static.log
started=$(date +%s)
make --no-print-directory lint unit build-check importer sanity >"$log" 2>&1 &
static=$!
make --no-print-directory molecule
molecule=$?
wait "$static"
checks=$?
echo "test: static checks (lint unit build-check importer sanity) $([ "$checks" -eq 0 ] && echo passed || echo FAILED)," \
  "log $log; molecule $([ "$molecule" -eq 0 ] && echo passed || echo FAILED); $(( $(date +%s) - started )) s"
if [ "$checks" -ne 0 ]; then
  tail -n 60 "$log"
fi
[ "$molecule" -eq 0 ] && [ "$checks" -eq 0 ] || exit 1
exec make --no-print-directory browser-check
