#!/usr/bin/env bash
# Galaxy's import checks on the collection tarball, offline: build the tarball exactly as it would
# be published (`ansible-galaxy collection build`), then run galaxy-importer on it with
# .config/galaxy-importer.cfg (ansible-doc on every plugin, ansible-lint with Galaxy's options,
# flake8 on plugins, metadata, FILES.json checksums, changelog, ansible-test ignore files; no
# ansible-test container: scripts/sanity.sh runs those tests).
#
# galaxy-importer exits 0 even when it logged errors, so its output is read: any ERROR or
# CRITICAL line, a Python traceback, a missing result file or a non-zero exit fails this script.
# Warnings (e.g. ansible-lint findings Galaxy only reports) are printed and counted; set
# ASGI_IMPORTER_STRICT=1 to fail on them too.
#
# usage: scripts/importer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="$root/.venv/bin:$PATH"
export GALAXY_IMPORTER_CONFIG="$root/.config/galaxy-importer.cfg"
build="$root/build"
work="$root/.cache/importer"

rm -rf "$work"
mkdir -p "$build" "$work/tmp"
rm -f "$build"/asgi-channels-*.tar.gz
ansible-galaxy collection build --force --output-path "$build" >/dev/null
tarball=$(ls "$build"/asgi-channels-*.tar.gz)
echo "importer: checking $(basename "$tarball")"

# The importer writes importer_result.json into its working directory.
status=0
(
  cd "$work"
  ANSIBLE_LOCAL_TEMP="$work/tmp" GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP="$work/tmp" \
    python -m galaxy_importer.main "$tarball"
) >"$work/importer.log" 2>&1 || status=$?
cat "$work/importer.log"

errors=$(grep -cE '^(ERROR|CRITICAL)[: ]|Traceback \(most recent call last\)' "$work/importer.log" || true)
warnings=$(grep -c '^WARNING: ' "$work/importer.log" || true)
problems=()
[ "$status" -eq 0 ] || problems+=("galaxy-importer exited with status $status")
[ -s "$work/importer_result.json" ] || problems+=("no importer_result.json was written")
[ "$errors" -eq 0 ] || problems+=("$errors error line(s) in its output")
if [ "${ASGI_IMPORTER_STRICT:-0}" = 1 ] && [ "$warnings" -ne 0 ]; then
  problems+=("$warnings warning(s) and ASGI_IMPORTER_STRICT=1")
fi
if ! grep -q '^Importer processing completed successfully' "$work/importer.log"; then
  problems+=("the import did not complete")
fi

if [ ${#problems[@]} -ne 0 ]; then
  printf 'importer: FAILED: %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "importer: OK, no error ($warnings warning(s)); result in ${work#"$root"/}/importer_result.json"
