"""Redis restarted under load: a broadcast reaches a client connected before the restart within
10 s, the Daphne processes keep running (same PIDs), no request of the load fails and none of its
WebSockets drops. The load runs on for AFTER s past the broadcast: longer than channels_redis's
blocking receive (brpop_timeout, 5 s), so every consumer has asked the restarted Redis again
before the load stops."""

import time

import pytest

from conftest import broadcast_after_redis_restart, steady_load
from faults_helpers import daphne_pids, record_result

DELIVERED_WITHIN = 10
AFTER = 6


@pytest.fixture(scope="module")
def restart(host):
    pids = daphne_pids(host)
    with steady_load(host, "restart-redis") as load:
        time.sleep(1)
        received, seconds = broadcast_after_redis_restart(host, "faults-redis", timeout=DELIVERED_WITHIN)
        load.notes["broadcast delivered after"] = "%s s" % (None if seconds is None else round(seconds, 2))
        time.sleep(AFTER)
    record_result(load, broadcast_delivered_after_s=None if seconds is None else round(seconds, 2))
    return {"load": load, "received": received, "seconds": seconds, "old_pids": pids, "new_pids": daphne_pids(host)}


def test_broadcast_reaches_a_client_connected_before_the_restart(restart):
    assert restart["received"] is not None, "nothing within %d s: %s" % (DELIVERED_WITHIN, restart["load"])
    assert restart["received"]["ok"], restart["received"]
    assert restart["seconds"] <= DELIVERED_WITHIN, restart["load"]


def test_daphne_processes_keep_running(restart):
    assert restart["new_pids"] == restart["old_pids"]


def test_redis_restart_fails_no_request(restart):
    load = restart["load"]
    assert load.result["http"]["failed"] == 0, "%s\n%s" % (load, load.result["http"]["failures"])


def test_redis_restart_drops_no_websocket(restart):
    load = restart["load"]
    assert load.result["ws"]["dropped"] == 0, "%s\n%s" % (load, load.result["ws"]["events"])
    assert load.result["ws"]["still_open"] == load.result["ws"]["opened"], load
