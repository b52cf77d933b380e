#!/usr/bin/env bash
# Create .venv with the pinned toolchain (requirements.txt). Reinstalls only when
# requirements.txt changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
"$python" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -r requirements.txt
echo "$want" >"$stamp"
version=$(.venv/bin/ansible --version)
echo "setup-venv: .venv ready (${version%%$'\n'*})"
