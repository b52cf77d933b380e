"""`--limit` to one host of the site: the run passes, says which hosts of the site it leaves out,
wires the limited host to them as a full run does (so a converged host reports no change: the
app's environment keeps the channel layer's URL, nginx keeps both upstreams), and touches no
other host. Every app host is a Redis host too (the Sentinel set), so each limited run has client
details of its own (the project scenario's test_limit.py leaves its Redis host out). A web host
that is no app host, limited alone, says that it gets no static files from the app host the limit
leaves out."""


import pytest
from conftest import changed_tasks, parse_json_output, run_playbook

SITE_HOSTS = {"cluster-redis", "cluster-app1", "cluster-app2"}
SKIP_TASK = "Say which hosts of the site --limit leaves out"
STATIC_SKIP_TASK = "Say why no static files are copied to this web host"


def _task_results(result, name):
    for play in result["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == name:
                yield from task["hosts"].values()


@pytest.fixture(scope="module", params=["cluster-app1", "cluster-redis"])
def limited_run(request):
    """A converge limited to one host: an app and web host, the Redis and web host (an app host
    alone, the Redis host left out, is the project scenario's test_limit.py)."""
    proc = run_playbook("converge.yml", limit=request.param, json_output=True)
    return request.param, proc, parse_json_output(proc)


def test_limited_run_passes(limited_run):
    limit, proc, result = limited_run
    failed = {h: s for h, s in result["stats"].items() if s["failures"] or s["unreachable"]}
    assert not failed, "--limit %s failed on %s:\n%s" % (limit, failed, proc.stderr[-3000:])


def test_limited_run_reaches_only_the_limited_host(limited_run):
    limit, _proc, result = limited_run
    assert set(result["stats"]) == {limit}


def test_limited_run_says_which_hosts_it_leaves_out(limited_run):
    limit, _proc, result = limited_run
    messages = [res.get("msg", "") for res in _task_results(result, SKIP_TASK)]
    assert len(messages) == 1, messages
    for other in SITE_HOSTS - {limit}:
        assert other in messages[0], messages[0]
    assert limit not in messages[0].split(":")[0], messages[0]


def test_limited_web_host_says_it_copies_no_static_files_from_the_app_host_left_out(limited_run):
    limit, _proc, result = limited_run
    if limit != "cluster-redis":
        pytest.skip("an app host has its own static files: the message is for a web host that is no app host")
    messages = [res["msg"] for res in _task_results(result, STATIC_SKIP_TASK) if "msg" in res]
    assert len(messages) == 1 and messages[0].startswith("cluster-app1, the first app host"), messages
    assert "none are copied to cluster-redis" in messages[0], messages


def test_limited_run_on_a_converged_host_changes_nothing(limited_run):
    # The channel layer's URL (from the Redis host's kept details) and nginx's upstreams (from the
    # other app host's facts) come out as in a full run: nothing to change.
    result = limited_run[2]
    changed = list(changed_tasks(result))
    assert not changed, "\n".join(changed)
