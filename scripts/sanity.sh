#!/usr/bin/env bash
# `ansible-test sanity` on the whole collection, with no tests/sanity/ignore-*.txt entries.
#
# ansible-test wants the collection at .../ansible_collections/<namespace>/<name> as a real
# directory (our committed collections/ link points back at the repository and would make it
# walk itself), so the files git knows about (tracked, plus untracked ones not ignored) are copied
# into .cache/sanity/ansible_collections/asgi/channels and the tests run there. The copy is
# rebuilt on every run, so a file deleted from the work tree does not linger in it. The copy gets
# its own (empty) git repository: ansible-test lists a collection's files with git from the
# nearest repository above it, which would otherwise be this one, where .cache/ is ignored.
#
# No container image can be pulled here, so the tests run with `--venv`: ansible-test creates one
# virtual environment per test from its own pinned requirements (pip, from PyPI) and reuses it on
# later runs (~/.ansible/test/venv). The `shellcheck` test needs Debian's shellcheck, installed
# here when missing (Debian's archive is reachable); `pslint` has no target (no PowerShell files).
#
# ansible-test creates those environments without pip and bootstraps pip with a get-pip script
# downloaded from ci-files.testing.ansible.com, which is not reachable here. Its documented way
# out is a script saved at ~/.ansible/test/cache/get_pip_<version>.py: when none is there, this
# script writes a small stand-in of its own that takes pip from the interpreter's ensurepip and
# then installs the pip version ansible-test pins, from PyPI. Nothing else is changed.
#
# usage: scripts/sanity.sh [extra ansible-test sanity arguments, e.g. --test validate-modules]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="$root/.venv/bin:$PATH"
python=${ASGI_SANITY_PYTHON:-3.11}
dest="$root/.cache/sanity/ansible_collections/asgi/channels"

if ! command -v shellcheck >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "sanity: installing Debian's shellcheck"
    apt-get -qq update >/dev/null
    NEEDRESTART_SUSPEND=1 DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends shellcheck >/dev/null
  else
    echo "sanity: shellcheck is missing and cannot be installed here (needs root + apt-get)" >&2
    exit 1
  fi
fi

# The pip version ansible-test pins for its environments, hence the bootstrap file it looks for.
pip_version=$(python - <<'PY'
from types import SimpleNamespace
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(SimpleNamespace(version="3.11"))["pip"])
PY
)
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -s "$get_pip" ]; then
  mkdir -p "$(dirname "$get_pip")"
  cat >"$get_pip" <<'PY'
"""Stand-in for get-pip.py, written by asgi.channels' scripts/sanity.sh (no network to fetch it).

Run by ansible-test in an empty virtual environment with pip's arguments (e.g. pip==24.2
--no-setuptools --no-wheel): installs the interpreter's bundled pip (ensurepip), then the
requested packages from the package index, and drops setuptools when asked to.
"""
import subprocess
import sys

FLAGS = ("--no-setuptools", "--no-wheel")
args = [arg for arg in sys.argv[1:] if arg not in FLAGS]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"] + args)
if "--no-setuptools" in sys.argv:
    subprocess.call([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "setuptools"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
PY
fi

rm -rf "$dest"
mkdir -p "$dest"
# Everything git would ship, minus the self-referencing link and anything under it.
git ls-files -z -co --exclude-standard \
  | grep -zv -e '^collections/' -e '^\.venv/' -e '^\.cache/' \
  | while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done \
  | tar -C "$root" --null -T - -cf - \
  | tar -C "$dest" -xf -

cd "$dest"
git init -q .
start=$(date +%s)
status=0
ansible-test sanity --venv --python "$python" --color no "$@" || status=$?
echo "sanity: $(( $(date +%s) - start )) s, exit status $status"
exit "$status"
