#!/usr/bin/env bash
# Build the Debian test images from Debian's archive (no registry is reachable): debootstrap a
# minimal system that boots systemd as PID 1, trust the host's CA bundle (so pip works inside),
# and `docker import` it. An image is rebuilt only when this script changes (its hash is the tag's
# label), so repeated runs reuse what was built. (`docker import` cannot set STOPSIGNAL: the
# Molecule platforms set stop_signal SIGRTMIN+3 so systemd shuts down cleanly.)
#
# usage: scripts/build-images.sh [SUITE ...]   (default: bookworm trixie)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=asgi-channels-test
mirror=${ASGI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
host_ca=${ASGI_HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
recipe=$(sha256sum "$0" | cut -c1-16)
# What a bare managed Debian server has, and nothing a role needs: Python for Ansible (with
# python3-apt for the apt module), CA certificates, systemd and dbus. Every other command a role
# runs comes from a package that role installs; the tools the tests use (ps, ss, curl...) are
# installed after the idempotence step (molecule/shared/test_tools.yml), so they cannot hide a
# role's missing dependency.
packages=python3,python3-apt,ca-certificates,systemd,systemd-sysv,dbus

"$here/docker-engine.sh"
if ! command -v debootstrap >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

build_one() {
  local suite=$1 image="$repo:$1" dir
  if [ "$(docker image inspect -f '{{ index .Config.Labels "recipe" }}' "$image" 2>/dev/null)" = "$recipe" ]; then
    echo "build-images: $image is up to date"
    return 0
  fi
  dir=$(mktemp -d "/var/tmp/asgi-$suite.XXXXXX")
  echo "build-images: debootstrap $suite into $dir"
  debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$mirror" \
    >"$dir.log" 2>&1 || { tail -n 30 "$dir.log" >&2; return 1; }
  # Trust the host's CAs (package index TLS is re-signed here), as an added local CA.
  install -D -m 0644 "$host_ca" "$dir/usr/local/share/ca-certificates/asgi-test-host.crt"
  chroot "$dir" update-ca-certificates >/dev/null 2>&1 || true
  # A container has no console and no udev; these units only fail or wait there.
  for unit in systemd-udevd.service systemd-udev-trigger.service getty@tty1.service \
              systemd-firstboot.service systemd-remount-fs.service console-getty.service; do
    ln -sf /dev/null "$dir/etc/systemd/system/$unit"
  done
  echo 'asgi-test' >"$dir/etc/hostname"
  # No package lists, and a lists directory that looks never updated (mtime at the epoch): the
  # apt module's cache_valid_time then updates first, as on a fresh host. A recent mtime would
  # make apt believe the (empty) lists fresh for an hour after the image was built.
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  rm -f "$dir"/var/lib/apt/periodic/update-success-stamp
  touch -d @0 "$dir/var/lib/apt/lists"
  tar -C "$dir" -c . | docker import \
    -c 'CMD ["/lib/systemd/systemd"]' \
    -c 'ENV container=docker PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    -c "LABEL recipe=$recipe suite=$suite" \
    - "$image" >/dev/null
  rm -rf "$dir" "$dir.log"
  echo "build-images: built $image"
}

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bookworm trixie)
pids=()
for suite in "${suites[@]}"; do
  build_one "$suite" &
  pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
exit $rc
