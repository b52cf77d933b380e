"""The docs' example inventory is a site of three hosts, so the site's firewall is on
(site_firewall's default): the app's ports (ASGI 8000, the split's WSGI 8100) answer the web host
and refuse the ACME server, which is on the same network in no group of the site; Redis answers
the app hosts and refuses the ACME server."""

import pytest
from conftest import tcp_connect
from project_helpers import EDGE, project_host

STRANGER = "project-pebble"
# (target, port, hosts of the site that must reach it)
PORTS = [
    ("project-app1", 8000, [EDGE]),
    ("project-app1", 8100, [EDGE]),
    ("project-app2", 8000, [EDGE]),
    ("project-app2", 8100, [EDGE]),
    (EDGE, 6379, ["project-app1", "project-app2"]),
]


def connect(source, target, port):
    return tcp_connect(project_host(source), target, port)


@pytest.mark.parametrize("target,port", [(t, p) for t, p, _sources in PORTS])
def test_a_stranger_is_refused(target, port):
    assert connect(STRANGER, target, port) == "ConnectionRefusedError"


@pytest.mark.parametrize("target,port,source", [(t, p, s) for t, p, sources in PORTS for s in sources])
def test_the_sites_hosts_are_answered(target, port, source):
    assert connect(source, target, port) == "open"
