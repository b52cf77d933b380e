"""The site playbook's post-deploy smoke check fails on what is not the app's answer, and says
which variable to set: a 400 (Django's answer for a Host outside ALLOWED_HOSTS), nginx's own page
(a path nginx serves itself), no answer at all. Each case is a no-change run of converge.yml with
one smoke variable changed; it must change nothing and fail only in the check. The runs change
nothing, so they run at the same time.
"""

import concurrent.futures
import re

import pytest

from conftest import ANSI, failure_message, run_playbook

CASES = {
    # id: (extra vars; words the failure must contain)
    "host-outside-allowed-hosts": (
        {"site_smoke_host_header": "not-in-allowed-hosts.example"},
        ["got 400", "Host outside ALLOWED_HOSTS", "put not-in-allowed-hosts.example in ALLOWED_HOSTS",
         "site_smoke_host_header"]),
    "nginx-own-page": (
        # a path of the sample site's static location: nginx answers 404 itself, the app never sees it
        {"site_smoke_http_url": "http://127.0.0.1/static/no-such-file"},
        ["got 404 from nginx itself, not the app", "site_smoke_http_url"]),
    "no-answer": (
        {"site_smoke_http_url": "http://127.0.0.1:9/"},
        ["got no answer (Request failed", "Connection refused", "site_smoke_http_url", "site_smoke_check false"]),
}


@pytest.fixture(scope="module")
def smoke_runs():
    """One run per case (each is a whole no-change converge), all at once."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        futures = {case: pool.submit(run_playbook, "converge.yml", extra_vars=extra_vars)
                   for case, (extra_vars, _words) in CASES.items()}
        return {case: future.result() for case, future in futures.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_smoke_check_fails_saying_what_to_set(smoke_runs, case):
    proc = smoke_runs[case]
    assert proc.returncode != 0, "the smoke check passed with %s:\n%s" % (CASES[case][0], proc.stdout[-3000:])
    failure = " ".join(failure_message(proc).split())  # the YAML callback folds long messages
    for word in CASES[case][1]:
        assert word in failure, "%r not in the failure:\n%s" % (word, failure[:3000])


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_failed_smoke_check_changed_nothing(smoke_runs, case):
    output = ANSI.sub("", smoke_runs[case].stdout)
    recap = re.findall(r"\bchanged=(\d+)\b.*?\bfailed=(\d+)\b", output)
    assert recap == [("0", "1")], "the run changed something or did not fail once:\n%s" % output[-3000:]
