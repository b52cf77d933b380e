"""A private git repository over SSH (prepare.yml: the sample app served by user git on
cluster-redis to one deploy key only): cluster-app2 is deployed from it with the deploy key and the
server's host key (a run limited to it), the key stays root-only on the host and out of the output,
a wrong host key stops the fetch with the variables to look at, and the server refuses a fetch
without the key. cluster-app2 is left on the git release: test_limit.py's runs leave it out, and
test_port.py's first step deploys it from its local source again (the daphne scenario proves the
way back to a kept release: test_redeploy.py)."""

import json

import pytest
from cluster_helpers import cluster_host
from conftest import failure_message, run_playbook, supervisor_status, wsclient

testinfra_hosts = ["ansible://cluster-app1"]

REPO = "git@cluster-redis:/srv/git/chat.git"
KEY_FILE = "/etc/daphne/asgi.git-key"
WORKER = "asgi-background:asgi-background_0"
ORIGIN = "--host-header localhost --origin http://localhost"


@pytest.fixture(scope="module")
def server():
    redis = cluster_host("cluster-redis", root=True)
    key = redis.file("/root/deploy-key").content_string
    host_key = redis.file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()
    return {"key": key, "known_hosts": ["cluster-redis %s %s" % (host_key[0], host_key[1])]}


def git_vars(server, **overrides):
    extra = {
        "daphne_source_type": "git",
        "daphne_git_repo": REPO,
        "daphne_git_version": "main",
        "daphne_git_key": server["key"],
        "daphne_git_known_hosts": server["known_hosts"],
    }
    extra.update(overrides)
    return extra


@pytest.fixture(scope="module")
def git_deploy(server):
    app2 = cluster_host("cluster-app2", root=True)
    local_release = app2.file("/srv/asgi/current").linked_to
    worker_before = supervisor_status(app2, "asgi-background:")[WORKER][1]
    # -vvv: module arguments and results are printed, and must not show the key
    proc = run_playbook("converge.yml", limit="cluster-app2", extra_vars=git_vars(server), verbosity=3)
    git_release = app2.file("/srv/asgi/current").linked_to
    worker_after = supervisor_status(app2, "asgi-background:")[WORKER][1]
    return {"proc": proc, "local_release": local_release, "git_release": git_release,
            "worker_pids": (worker_before, worker_after)}


def test_deploy_from_the_private_repository_passes(git_deploy):
    assert git_deploy["proc"].returncode == 0, failure_message(git_deploy["proc"])


def test_deployed_release_is_the_repositorys_commit(git_deploy):
    app2 = cluster_host("cluster-app2", root=True)
    assert git_deploy["git_release"] != git_deploy["local_release"]
    head = app2.check_output("git -C %s rev-parse HEAD" % git_deploy["git_release"])
    # the commit the server's repository was made from (its work tree is root's)
    served = cluster_host("cluster-redis", root=True).check_output("git -C /root/chat-work rev-parse main")
    assert head == served


def test_site_serves_the_git_release_from_the_app_host(host, git_deploy):
    result = wsclient(host, "http http://127.0.0.1/health/ --host-header localhost --count 20 --all-bodies")
    assert result["ok"], result
    releases = {json.loads(body)["release"] for body in result["bodies"] if json.loads(body)["host"] == "cluster-app2"}
    assert releases == {git_deploy["git_release"].rsplit("/", 1)[-1]}


def test_worker_restarted_onto_the_git_release(git_deploy):
    # daphne_workers: a deploy that moves current restarts the background worker too, and it
    # starts from the new release (the stamp it started with names it)
    before, after = git_deploy["worker_pids"]
    assert after and after != before
    app2 = cluster_host("cluster-app2", root=True)
    started = app2.check_output("/srv/asgi/bin/daphne-run stamp %d" % after).splitlines()[1]
    assert started.split()[1].split(":")[0] == git_deploy["git_release"].rsplit("/", 1)[-1], started


def test_deploy_key_is_root_only(git_deploy):
    key = cluster_host("cluster-app2", root=True).file(KEY_FILE)
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)


def test_deploy_key_is_not_in_the_output(server, git_deploy):
    body = [line for line in server["key"].splitlines() if line and not line.startswith("-----")]
    output = git_deploy["proc"].stdout + git_deploy["proc"].stderr
    assert body and not any(line in output for line in body)


def test_server_refuses_a_fetch_without_the_deploy_key(git_deploy):
    probe = cluster_host("cluster-app2", root=True).run(
        "GIT_SSH_COMMAND='ssh -o BatchMode=yes -o UserKnownHostsFile=/etc/daphne/asgi.git-known-hosts' "
        "git ls-remote %s" % REPO
    )
    assert probe.rc != 0 and "Permission denied" in probe.stderr, probe.stderr


def test_wrong_host_key_stops_the_fetch_and_names_the_variables(server, git_deploy):
    app2 = cluster_host("cluster-app2", root=True)
    app2.check_output("rm -f /tmp/other-host-key /tmp/other-host-key.pub")
    app2.check_output("ssh-keygen -q -t ed25519 -N '' -f /tmp/other-host-key")
    line = "cluster-redis " + " ".join(app2.file("/tmp/other-host-key.pub").content_string.split()[:2])
    app2.check_output("rm -f /tmp/other-host-key /tmp/other-host-key.pub")
    proc = run_playbook("converge.yml", limit="cluster-app2", extra_vars=git_vars(server, daphne_git_known_hosts=[line]))
    assert proc.returncode != 0
    message = failure_message(proc)
    assert "daphne_git_known_hosts" in message and "daphne_git_key" in message, message
