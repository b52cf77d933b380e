"""Restarts, run after the other tests of the scenario: Redis restarted under connected clients,
then the whole container rebooted. The host must still be converged afterwards (the shared
check-mode test runs after this file). The steps are shared with the faults scenario (conftest)."""

from conftest import broadcast_after_redis_restart, reboot


def test_broadcast_reaches_clients_connected_before_redis_restart(host):
    received, seconds = broadcast_after_redis_restart(host, "restart")
    assert received is not None, "no broadcast reached the listener within 10 s of the Redis restart"
    assert received["ok"], received
    assert seconds <= 10


def test_everything_is_back_after_a_reboot(host):
    # The old bound: systemd up within ~90 s, then the site answering within another minute.
    state, answered_after, answer = reboot(host, answer_within=150)
    assert state in ("running", "degraded"), host.run("systemctl --failed --no-pager").stdout
    for service in ("nginx", "supervisor", "redis-server"):
        assert host.service(service).is_running, service
    run_dir = host.file("/run/daphne")
    assert run_dir.is_directory
    assert run_dir.user == "daphne"
    assert answered_after is not None, answer
