"""The cluster scenario's hosts for its tests, as the inventory connects to them."""

import os

import testinfra

# deployed by the sudo user `deploy` (prepare.yml); cluster-app1 by root, which has no sudo there
SUDO_USER_HOSTS = {"cluster-redis", "cluster-app2"}


def cluster_host(name, root=False):
    """The testinfra host ``name``; with ``root`` its commands run as root (through sudo where the
    inventory connects as the sudo user)."""
    spec = "ansible://%s%s" % (name, "?sudo=true" if root and name in SUDO_USER_HOSTS else "")
    return testinfra.get_host(spec, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def network_address(name):
    """The host's address on the scenario's docker network (its default IPv4 address)."""
    return cluster_host(name).check_output("ip -4 -o route get 1.1.1.1 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'")
