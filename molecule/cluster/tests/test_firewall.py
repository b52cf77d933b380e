"""The site's firewall (site_firewall, on by default in a site of several hosts; the role
asgi.channels.firewall): from cluster-outside, a host on the same network in no group of the
site, Redis, Sentinel and the app ports refuse; from the site's own hosts they answer. The table is
the collection's own (inet asgi_channels): reloading it leaves the host's other tables alone, and a
restart of Debian's nftables.service, which flushes every table, brings it back."""

import pytest
from cluster_helpers import cluster_host, network_address
from conftest import changed_tasks, failure_message, parse_json_output, run_playbook, tcp_connect

testinfra_hosts = ["ansible://cluster-app1"]

OUTSIDE = "cluster-outside"
# (host, port, the site's hosts that may connect)
PORTS = [
    ("cluster-redis", 6379, ["cluster-app1", "cluster-app2"]),
    ("cluster-redis", 26379, ["cluster-app1", "cluster-app2"]),
    ("cluster-app1", 6379, ["cluster-redis", "cluster-app2"]),
    ("cluster-app2", 26379, ["cluster-redis", "cluster-app1"]),
    ("cluster-app1", 8000, ["cluster-redis"]),
    ("cluster-app2", 8000, ["cluster-redis", "cluster-app1"]),
    ("cluster-app2", 8001, ["cluster-redis", "cluster-app1"]),
]
FIREWALLED = ["cluster-redis", "cluster-app1", "cluster-app2"]


def connect(source, target, port):
    return tcp_connect(cluster_host(source), network_address(target), port)


@pytest.mark.parametrize("target,port", [(t, p) for t, p, _sources in PORTS])
def test_a_stranger_is_refused(target, port):
    assert connect(OUTSIDE, target, port) == "ConnectionRefusedError"


@pytest.mark.parametrize("target,port,source", [(t, p, s) for t, p, sources in PORTS for s in sources])
def test_the_sites_own_hosts_connect(target, port, source):
    assert connect(source, target, port) == "open"


@pytest.mark.parametrize("name", FIREWALLED)
def test_the_table_is_loaded_by_the_collections_unit(name):
    host = cluster_host(name, root=True)
    assert host.service("asgi-channels-firewall").is_enabled
    assert "table inet asgi_channels" in host.run("nft list tables").stdout


def test_reloading_the_table_leaves_the_hosts_other_tables_alone():
    host = cluster_host("cluster-app2", root=True)
    assert host.run("nft add table inet host_own && nft add chain inet host_own input").rc == 0
    try:
        assert host.run("systemctl reload asgi-channels-firewall").rc == 0
        assert "table inet host_own" in host.run("nft list tables").stdout
    finally:
        host.run("nft delete table inet host_own")


def test_a_restart_of_nftables_service_brings_the_table_back():
    redis = cluster_host("cluster-redis", root=True)
    # Debian's nftables.conf starts with "flush ruleset": every table goes, the unit loads ours again
    # (Docker's rules for its embedded DNS go too: nothing on this host resolves a name after this)
    assert redis.run("systemctl restart nftables.service").rc == 0
    assert "table inet asgi_channels" in redis.run("nft list tables").stdout
    assert connect(OUTSIDE, "cluster-redis", 6379) == "ConnectionRefusedError"


def test_the_outside_host_is_in_no_group_of_the_site():
    assert network_address(OUTSIDE) not in cluster_host("cluster-app1", root=True).file(
        "/etc/asgi-channels/firewall.nft").content_string


# The role alone on cluster-outside (molecule/cluster/firewall-switch.yml): on, then off.
SWITCH_FILES = [
    "/etc/asgi-channels/firewall.nft",
    "/etc/systemd/system/asgi-channels-firewall.service",
    "/etc/systemd/system/nftables.service.d/asgi-channels-firewall.conf",
]


def switch(state):
    proc = run_playbook("firewall-switch.yml", extra_vars={"firewall_state": state}, json_output=True)
    assert proc.returncode == 0, failure_message(proc)
    return proc


@pytest.fixture(scope="module")
def switched_off():
    """cluster-outside with the table loaded, then firewall_state absent; the host afterwards."""
    host = cluster_host(OUTSIDE, root=True)
    switch("present")
    assert "table inet asgi_channels" in host.run("nft list tables").stdout
    assert all(host.file(path).exists for path in SWITCH_FILES)
    switch("absent")
    return host


def test_state_absent_deletes_the_table(switched_off):
    assert "asgi_channels" not in switched_off.run("nft list tables").stdout


@pytest.mark.parametrize("path", SWITCH_FILES)
def test_state_absent_removes_the_file(switched_off, path):
    assert not switched_off.file(path).exists


def test_state_absent_disables_the_unit(switched_off):
    wants = switched_off.file("/etc/systemd/system/sysinit.target.wants/asgi-channels-firewall.service")
    assert not wants.is_symlink
    assert switched_off.run("systemctl is-enabled asgi-channels-firewall.service").stdout.strip() != "enabled"


@pytest.fixture(scope="module")
def absent_again(switched_off):
    return parse_json_output(switch("absent"))


def test_state_absent_again_changes_nothing(absent_again):
    assert list(changed_tasks(absent_again)) == []


def test_state_absent_again_warns_nothing(absent_again):
    # a host without the firewall's files is the usual one (a one-host site): no warning there
    warnings = [(task["task"]["name"], res["warnings"]) for play in absent_again["plays"] for task in play["tasks"]
                for res in task["hosts"].values() if res.get("warnings")]
    assert warnings == []
