"""Restarts, run after the other tests of the scenario: Redis restarted under connected clients,
then the whole container rebooted. The host must still be converged afterwards (the shared
check-mode test runs after this file)."""

import json
import subprocess
import time

ORIGIN = "--host-header localhost --origin http://localhost"
ROOM = "ws://127.0.0.1/ws/chat/restart/"


def test_broadcast_reaches_clients_connected_before_redis_restart(host):
    host.run("rm -f /tmp/listen.json /tmp/listen.ready")
    host.run(
        "setsid nohup wsclient listen %s %s --expect after-restart --timeout 90 "
        "--ready-file /tmp/listen.ready > /tmp/listen.json 2>&1 < /dev/null &" % (ROOM, ORIGIN)
    )
    for _attempt in range(50):
        if host.file("/tmp/listen.ready").exists:
            break
        time.sleep(0.2)
    assert host.file("/tmp/listen.ready").exists, "the listener did not connect"
    assert host.run("systemctl restart redis-server").rc == 0
    restarted_at = float(host.run("date +%s.%N").stdout)
    received = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        host.run("wsclient probe %s %s --send after-restart --expect after-restart --timeout 2" % (ROOM, ORIGIN))
        content = host.file("/tmp/listen.json").content_string.strip()
        if content:
            received = json.loads(content)
            break
        time.sleep(0.5)
    assert received is not None, "no broadcast reached the listener within 10 s of the Redis restart"
    assert received["ok"], received
    assert received["received_at"] - restarted_at <= 10


def test_everything_is_back_after_a_reboot(host):
    name = host.backend.host
    subprocess.run(["docker", "restart", name], check=True, capture_output=True, timeout=120)
    state = ""
    for _attempt in range(90):
        # Right after the restart systemd may not answer yet (no bus): ask again.
        state = host.run("systemctl is-system-running --wait").stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    assert state in ("running", "degraded"), host.run("systemctl --failed --no-pager").stdout
    for service in ("nginx", "supervisor", "redis-server"):
        assert host.service(service).is_running, service
    run_dir = host.file("/run/daphne")
    assert run_dir.is_directory
    assert run_dir.user == "daphne"
    answer = None
    for _attempt in range(60):
        answer = json.loads(host.run("wsclient http http://127.0.0.1/health/ --host-header localhost").stdout)
        if answer["ok"]:
            break
        time.sleep(1)
    assert answer["ok"], answer
