"""Redis restarted under load: a broadcast reaches a client connected before the restart within
10 s, the Daphne processes keep running (same PIDs). What the load lost is reported."""

import time

import pytest

from conftest import broadcast_after_redis_restart, steady_load
from faults_helpers import daphne_pids

DELIVERED_WITHIN = 10


@pytest.fixture(scope="module")
def restart(host):
    pids = daphne_pids(host)
    with steady_load(host, "restart-redis") as load:
        time.sleep(1)
        received, seconds = broadcast_after_redis_restart(host, "faults-redis", timeout=DELIVERED_WITHIN)
        load.notes["broadcast delivered after"] = "%s s" % (None if seconds is None else round(seconds, 2))
        time.sleep(1)
    return {"load": load, "received": received, "seconds": seconds, "old_pids": pids, "new_pids": daphne_pids(host)}


def test_broadcast_reaches_a_client_connected_before_the_restart(restart):
    assert restart["received"] is not None, "nothing within %d s: %s" % (DELIVERED_WITHIN, restart["load"])
    assert restart["received"]["ok"], restart["received"]
    assert restart["seconds"] <= DELIVERED_WITHIN, restart["load"]


def test_daphne_processes_keep_running(restart):
    assert restart["new_pids"] == restart["old_pids"]
