"""`--limit` to one app host of the docs' example inventory: the run passes, says which hosts of
the site it leaves out, and changes nothing on the converged host (the other hosts are not in the
run)."""

from conftest import changed_tasks, parse_json_output, run_playbook

SKIP_TASK = "Say which hosts of the site --limit leaves out"


def test_limited_run_passes_reaches_one_host_and_changes_nothing():
    proc = run_playbook("converge.yml", limit="project-app2", json_output=True)
    result = parse_json_output(proc)
    failed = {h: s for h, s in result["stats"].items() if s["failures"] or s["unreachable"]}
    assert not failed, proc.stderr[-3000:]
    assert set(result["stats"]) == {"project-app2"}
    changed = list(changed_tasks(result))
    assert not changed, "\n".join(changed)
    said = [res.get("msg", "") for play in result["plays"] for task in play["tasks"]
            if task["task"]["name"] == SKIP_TASK for res in task["hosts"].values()]
    assert len(said) == 1 and "project-edge" in said[0] and "project-app1" in said[0], said
