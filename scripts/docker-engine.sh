#!/usr/bin/env bash
# Make sure a Docker engine answers. On a fresh Debian machine: install Debian's docker.io and
# start dockerd in the background (no systemd on the CI machine). Idempotent and quick when an
# engine already answers.
set -euo pipefail

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

if engine_answers; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-engine: installing Debian's docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "docker-engine: starting dockerd" >&2
  mkdir -p /var/log
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if engine_answers; then
    exit 0
  fi
  sleep 1
done
echo "docker-engine: dockerd did not answer within 60 s; last log lines:" >&2
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
