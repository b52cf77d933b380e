"""The project scenario's hosts and the site's addresses, as its tests use them."""

import json
import shlex
import os

import testinfra

from conftest import wsclient

EDGE = "project-edge"
APP_HOSTS = ["project-app1", "project-app2"]
SITE = "www.example.com"
# the example's site over HTTPS (its certificate is pebble's, by ACME: test_acme.py verifies it)
CLIENT = "--host-header %s --origin https://%s --insecure" % (SITE, SITE)
FRONT_PAGE = "https://127.0.0.1/"
NOTIFICATIONS = "wss://127.0.0.1/ws/notifications/"
RELEASES = "/srv/asgi/releases"


def project_host(name):
    """The testinfra host ``name`` (root in the container)."""
    return testinfra.get_host("ansible://%s" % name, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def front_pages(count):
    """The JSON bodies of ``count`` requests for the front page through nginx on the web host."""
    result = wsclient(project_host(EDGE), "http %s %s --count %d --all-bodies" % (FRONT_PAGE, CLIENT, count))
    assert result["ok"], result
    return [json.loads(body) for body in result["bodies"]]


def ask_the_worker(text):
    """Send {"ask": text} over the WebSocket; the worker's answer (the text reversed) and who."""
    result = wsclient(project_host(EDGE), "probe %s %s --send '{\"ask\": \"%s\"}' --expect %s"
                      % (NOTIFICATIONS, CLIENT, text, text[::-1]))
    assert result["ok"], result
    return json.loads(result["reply"])


def environment(other, program="asgi"):
    """{name: value} of the program's environment file on the testinfra host ``other``."""
    pairs = [shlex.split(line)[0] for line in other.file("/etc/daphne/%s.env" % program).content_string.splitlines()
             if line and not line.startswith("#")]
    return dict(pair.split("=", 1) for pair in pairs)
