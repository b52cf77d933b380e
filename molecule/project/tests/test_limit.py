"""`--limit` to one app host of the docs' example inventory (the Redis and web host and the other
app host left out): the run passes, reaches only that host, says which hosts of the site it leaves
out, and changes nothing on the converged host. Without the client details the Redis host keeps,
the run stops and says what to do."""

import pytest
from conftest import changed_tasks, failure_message, parse_json_output, run_playbook
from project_helpers import project_host

LIMIT = "project-app2"
KEPT_DETAILS = "/etc/asgi-channels/redis-client.json"
SKIP_TASK = "Say which hosts of the site --limit leaves out"


@pytest.fixture(scope="module")
def limited_run():
    proc = run_playbook("converge.yml", limit=LIMIT, json_output=True)
    return proc, parse_json_output(proc)


def test_limited_run_passes(limited_run):
    proc, result = limited_run
    failed = {h: s for h, s in result["stats"].items() if s["failures"] or s["unreachable"]}
    assert not failed, proc.stderr[-3000:]


def test_limited_run_reaches_only_the_limited_host(limited_run):
    assert set(limited_run[1]["stats"]) == {LIMIT}


def test_limited_run_says_which_hosts_it_leaves_out(limited_run):
    said = [res.get("msg", "") for play in limited_run[1]["plays"] for task in play["tasks"]
            if task["task"]["name"] == SKIP_TASK for res in task["hosts"].values()]
    assert len(said) == 1, said
    assert "project-edge" in said[0] and "project-app1" in said[0] and LIMIT not in said[0].split(":")[0], said


def test_limited_run_on_a_converged_host_changes_nothing(limited_run):
    changed = list(changed_tasks(limited_run[1]))
    assert not changed, "\n".join(changed)


def test_limited_run_without_the_redis_hosts_kept_details_names_what_to_do(limited_run):
    redis = project_host("project-edge")
    assert redis.run("mv %s %s.moved" % (KEPT_DETAILS, KEPT_DETAILS)).rc == 0
    try:
        proc = run_playbook("converge.yml", limit=LIMIT)
    finally:
        assert redis.run("mv %s.moved %s" % (KEPT_DETAILS, KEPT_DETAILS)).rc == 0
    assert proc.returncode != 0
    message = failure_message(proc)
    assert "project-edge" in message and "keeps no client details yet" in message, message
