#!/usr/bin/env bash
# `make browser-test`: deploy the demo (make demo), then drive Debian's headless Chromium at it
# with two pages (tests/browser). Chromium and its driver come from Debian's archive; no browser
# is downloaded. Screenshots go to .cache/browser/.
# env: DEMO_PORT, DEMO_CONTAINER (see scripts/demo.sh), BROWSER_TEST_CLEANUP
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH="$PWD/.venv/bin:$PATH"
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "browser-test: installing Debian's chromium and chromium-driver"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
fi
# BROWSER_TEST_CLEANUP=1 (the test suite): remove the container afterwards, pass or fail.
if [ "${BROWSER_TEST_CLEANUP:-0}" = 1 ]; then
  trap 'scripts/demo.sh down' EXIT
fi
scripts/demo.sh up
# Selenium must not look for drivers on the network: the driver's path is given.
SE_OFFLINE=true DEMO_URL="http://127.0.0.1:${DEMO_PORT:-8080}/" pytest -p no:cacheprovider -s tests/browser
