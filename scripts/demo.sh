#!/usr/bin/env bash
# `make demo`: the whole stack, deployed by playbooks/site.yml into one local container (all
# three groups on one host), the sample chat app of examples/chat, published on 127.0.0.1 only.
#
# usage: scripts/demo.sh up|down
# env:   DEMO_PORT (default 8080), DEMO_SUITE (bookworm|trixie, default trixie),
#        DEMO_CONTAINER (default asgi-channels-demo; the test suite uses its own)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="$root/.venv/bin:$PATH"
name=${DEMO_CONTAINER:-asgi-channels-demo}
export DEMO_CONTAINER=$name
port=${DEMO_PORT:-8080}
suite=${DEMO_SUITE:-trixie}
state="$root/.cache/demo"
# Ansible's fact cache (ansible.cfg), one per container: a new container starts without one.
export ANSIBLE_CACHE_PLUGIN_CONNECTION="$root/.cache/facts/$name"
cache=/var/cache/asgi-channels-test/demo/$suite

down() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  echo "demo: removed $name"
}

up() {
  mkdir -p "$state" "$cache/apt" "$cache/pip"
  if [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
    docker rm -f "$name" >/dev/null 2>&1 || true
    rm -rf "$ANSIBLE_CACHE_PLUGIN_CONNECTION"
    # The same capabilities as the Molecule platforms (systemd as PID 1; --privileged is not
    # available here); the port only on 127.0.0.1.
    docker run -d --name "$name" --hostname "$name" \
      --cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
      --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
      --tmpfs /run --tmpfs /run/lock --tmpfs /tmp --stop-signal SIGRTMIN+3 \
      -v "$cache/apt:/var/cache/apt/archives" -v "$cache/pip:/root/.cache/pip" \
      -p "127.0.0.1:$port:80" "asgi-channels-test:$suite" /lib/systemd/systemd >/dev/null
  fi
  # Secrets of this demo: made once, kept out of the repository, 0600.
  if [ ! -s "$state/secrets.yml" ]; then
    umask 077
    cat >"$state/secrets.yml" <<SECRETS
---
chat_secret_key: "$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
chat_redis_password: "$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
SECRETS
  fi
  ANSIBLE_CONFIG="$root/ansible.cfg" ansible-playbook -i scripts/demo/inventory.yml \
    -e "@$state/secrets.yml" scripts/demo/demo.yml
  echo
  echo "demo: Open http://127.0.0.1:$port/  (the sample chat: open it twice, messages cross through Redis)"
  echo "demo: remove it with: make demo-destroy"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
