#!/usr/bin/env python
"""probe: one JSON snapshot of the bench container's servers (standard library only).

  probe.py [--program asgi]

Prints {"t", "nginx": {pid: rss_kib}, "daphne": {pid: rss_kib}, "rss_kib": total of both,
"daphne_established": {pid: established TCP connections on the app ports}, "daphne_ports": {pid: the
ports it listens on}, "daphne_cpu_ticks":
{pid: CPU time used so far, user + system, in clock ticks}, "clk_tck": ticks a second,
"nginx_workers": {pid: established TCP connections}}. Daphne processes are the ones supervisord started for the
program (SUPERVISOR_GROUP_NAME is the program name) or, under systemd, the main processes of its
instances (cgroup ".../<program>@N.service"); counts come from /proc (each pid's
socket inodes matched against /proc/net/tcp{,6} entries in state ESTABLISHED). A process's app
ports are the ports of its own listening sockets: the shared socket every process inherits
(daphne_binding shared: 8000 for all) or its own port (daphne_binding port: 8000, 8001, ...), so
its Redis connections and the like are never counted.
"""

import argparse
import json
import os
import re
import sys
import time

ESTABLISHED = "01"
LISTEN = "0A"


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _comm(pid):
    return _read("/proc/%d/comm" % pid).decode().strip()


def _rss_kib(pid):
    for line in _read("/proc/%d/status" % pid).decode().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_ticks(pid):
    """utime + stime of /proc/PID/stat (fields 14 and 15; counted after the command's closing parenthesis)."""
    fields = _read("/proc/%d/stat" % pid).rpartition(b")")[2].split()
    return int(fields[11]) + int(fields[12]) if len(fields) > 12 else 0


def _env(pid):
    pairs = (item.partition(b"=") for item in _read("/proc/%d/environ" % pid).split(b"\0"))
    return {key.decode(): value.decode("utf-8", "replace") for key, _sep, value in pairs if key}


def _read_socket_inodes(pid):
    inodes = set()
    try:
        names = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return inodes
    for name in names:
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, name))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _socket_inodes(pid):
    """The pid's socket inodes, read by a child running as the pid's owner: root in the container
    has no CAP_SYS_PTRACE, so it may not read another user's /proc/PID/fd."""
    uid = gid = None
    for line in _read("/proc/%d/status" % pid).decode().splitlines():
        if line.startswith("Uid:"):
            uid = int(line.split()[1])
        elif line.startswith("Gid:"):
            gid = int(line.split()[1])
    if uid is None:
        return set()
    rfd, wfd = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(rfd)
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            os.write(wfd, " ".join(sorted(_read_socket_inodes(pid))).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    chunks = []
    while True:
        chunk = os.read(rfd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(rfd)
    os.waitpid(child, 0)
    return set(b"".join(chunks).decode().split())


def _tcp_sockets():
    """{inode: (state, local port)} of every TCP socket of /proc/net/tcp{,6}."""
    sockets = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in _read(table).decode().splitlines()[1:]:
            fields = line.split()
            sockets[fields[9]] = (fields[3], int(fields[1].rsplit(":", 1)[1], 16))
    return sockets


def app_connections(inodes, sockets):
    """(established connections on the ports this process listens on, those ports) of a process
    with the socket ``inodes``, given ``sockets`` ({inode: (state, local port)})."""
    mine = [sockets[inode] for inode in inodes if inode in sockets]
    ports = sorted({port for state, port in mine if state == LISTEN})
    return sum(1 for state, port in mine if state == ESTABLISHED and port in ports), ports


def _systemd_instance(pid, program):
    """True when pid runs in the cgroup of an instance <program>@N.service (daphne_process_manager
    systemd)."""
    suffix = re.compile(r"/%s@[0-9]+[.]service$" % re.escape(program))
    return any(suffix.search(line) for line in _read("/proc/%d/cgroup" % pid).decode().splitlines())


def snapshot(opts):
    nginx, daphne = [], []
    for pid in _pids():
        comm = _comm(pid)
        if comm == "nginx":
            nginx.append(pid)
        elif comm.startswith("python") or comm == "daphne":
            if _env(pid).get("SUPERVISOR_GROUP_NAME") == opts.program or _systemd_instance(pid, opts.program):
                daphne.append(pid)
    sockets = _tcp_sockets()
    app = {pid: app_connections(_socket_inodes(pid), sockets) for pid in daphne}
    result = {
        "t": round(time.time(), 3),
        "nginx": {pid: _rss_kib(pid) for pid in nginx},
        "daphne": {pid: _rss_kib(pid) for pid in daphne},
        "daphne_established": {pid: app[pid][0] for pid in daphne},
        "daphne_ports": {pid: app[pid][1] for pid in daphne},
        "daphne_cpu_ticks": {pid: _cpu_ticks(pid) for pid in daphne},
        "clk_tck": os.sysconf("SC_CLK_TCK"),
        "nginx_workers": {pid: sum(1 for inode in _socket_inodes(pid) if sockets.get(inode, ("",))[0] == ESTABLISHED)
                          for pid in nginx},
    }
    result["rss_kib"] = sum(result["nginx"].values()) + sum(result["daphne"].values())
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--program", default="asgi")
    print(json.dumps(snapshot(parser.parse_args(argv)), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
