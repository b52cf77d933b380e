"""The benchmark's arithmetic and verdicts (scripts/bench/bench.py and report.py), without Docker.

The scripts are not a package: they are loaded from their paths. What is checked here is what a
wrong figure in docs/benchmark.md would come from: wrk's output read into numbers, the spread,
the idle test before the broadcast, and a target passing only on a measured value.
"""

import copy
import importlib.util
import json
import pathlib

import pytest

BENCH_DIR = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "bench"

WRK_OK = """Running 10s test @ http://127.0.0.1/health/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    45.52ms    8.10ms 120.31ms   80.12%
  Latency Distribution
     50%   44.10ms
     75%   48.00ms
     90%   55.21ms
     99%    1.02s
  6903 requests in 10.00s, 1.52MB read
Requests/sec:    690.12
Transfer/sec:    155.62KB
"""

WRK_ERRORS = WRK_OK.replace(
    "Requests/sec:", "  Socket errors: connect 0, read 3, write 0, timeout 2\n"
    "  Non-2xx or 3xx responses: 17\nRequests/sec:").replace("     50%   44.10ms", "     50%  812.00us")


def _load(name):
    spec = importlib.util.spec_from_file_location("bench_" + name, BENCH_DIR / ("%s.py" % name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _load("bench")


@pytest.fixture(scope="module")
def report():
    return _load("report")


# --- wrk -------------------------------------------------------------------------------------------


def test_parse_wrk_reads_rate_and_percentiles_in_ms(bench):
    result = bench.parse_wrk(WRK_OK)
    assert result["requests_per_s"] == 690.12
    assert result["p50_ms"] == 44.1
    assert result["p99_ms"] == 1020.0


def test_parse_wrk_without_errors_counts_none(bench):
    result = bench.parse_wrk(WRK_OK)
    assert (result["non_2xx"], result["socket_errors"], result["errors"]) == (0, None, 0)


def test_parse_wrk_counts_non_2xx_and_socket_errors(bench):
    result = bench.parse_wrk(WRK_ERRORS)
    assert result["non_2xx"] == 17
    assert result["socket_errors"] == "connect 0, read 3, write 0, timeout 2"
    assert result["errors"] == 22


def test_parse_wrk_converts_microseconds(bench):
    assert bench.parse_wrk(WRK_ERRORS)["p50_ms"] == 0.81


# --- spread and idle -------------------------------------------------------------------------------


@pytest.mark.parametrize("per_pid,expected", [
    ({"1": 10, "2": 15}, 1.5),
    ({"1": 7}, 1.0),
    ({"1": 0, "2": 5}, None),   # a process with nothing: no ratio, the target fails
    ({}, None),
])
def test_spread_is_busiest_over_least_busy(bench, per_pid, expected):
    assert bench.spread(per_pid) == expected


def _probe(t, ticks, established):
    return {"t": t, "clk_tck": 100, "daphne_cpu_ticks": ticks, "daphne_established": established}


def test_idle_when_no_connection_and_little_cpu(bench):
    before = _probe(0.0, {"1": 100, "2": 100}, {"1": 0, "2": 0})
    after = _probe(1.0, {"1": 102, "2": 101}, {"1": 0, "2": 0})  # 2 % and 1 % of a core
    assert bench.idle(before, after)


def test_not_idle_while_a_process_is_busy(bench):
    before = _probe(0.0, {"1": 100, "2": 100}, {"1": 0, "2": 0})
    after = _probe(1.0, {"1": 150, "2": 100}, {"1": 0, "2": 0})  # 50 % of a core
    assert not bench.idle(before, after)


def test_not_idle_while_connections_are_established(bench):
    before = _probe(0.0, {"1": 100}, {"1": 0})
    after = _probe(1.0, {"1": 100}, {"1": 3})
    assert not bench.idle(before, after)


def test_not_idle_when_a_process_is_new(bench):
    """A process restarted between the two probes has no CPU figure: not known to be idle."""
    before = _probe(0.0, {"1": 100}, {"1": 0, "3": 0})
    after = _probe(1.0, {"1": 100, "3": 5}, {"1": 0, "3": 0})
    assert not bench.idle(before, after)


# --- verdicts --------------------------------------------------------------------------------------

TUNED = {
    "hold": {"held": 40000, "failed_handshakes": 0, "dropped": 0, "handshake_ms_p99_max": 900.0,
             "kib_per_connection": 60.5, "kib_added_per_connection": 55.0, "spread": 1.04},
    "http": {"nginx": {"requests_per_s": 690.0, "p50_ms": 44.0, "p99_ms": 80.0, "errors": 0},
             "direct": {"requests_per_s": 700.0, "p50_ms": 40.0, "p99_ms": 70.0, "errors": 0},
             "ratio": 0.98, "ratio_min": 0.95, "ratio_max": 1.01, "round_ratios": [0.95, 0.98, 1.01]},
    "broadcast": {"deliveries_per_s": 1045.9, "delivery_ms": {"p50": 70.0, "p99": 110.0, "max": 130.0},
                  "message_ms": {"p50": 85.0, "p99": 120.0, "max": 130.0}, "lost": 0, "messages_incomplete": 0,
                  "every_process_subscribed": True, "spread": 1.1, "settle_s": 12.0, "settled": True},
    "broadcast_big": {"subscribers": 10000, "deliveries_per_s": 10050.0,
                      "delivery_ms": {"p50": 150.0, "p99": 390.0, "max": 420.0},
                      "message_ms": {"p50": 300.0, "p99": 410.0, "max": 420.0}, "lost": 0,
                      "every_process_subscribed": True},
    "deploy": {"run1": {"seconds": 62.6, "changed": 90}, "run2": {"seconds": 16.6, "changed": 0}},
    "logs": {"daphne": {}, "nginx": {}},
}
SETTINGS = {"connections": 20000, "rate": 200.0, "processes": 5, "hold": 60.0, "wrk_rounds": 9, "wrk_seconds": 5,
            "wrk_threads": 2, "wrk_connections": 32, "subscribers": 1000, "messages": 200, "message_rate": 2.0}
JUDGED = {"tuned": {"judged": True, "description": "the roles"}, "guide": {"judged": False, "description": "by hand"}}


def _results(**configs):
    return {"configs": configs, "configurations": {name: JUDGED[name] for name in configs}}


def _changed(**changes):
    tuned = copy.deepcopy(TUNED)
    for path, value in changes.items():
        keys = path.split("__")
        target = tuned
        for part in keys[:-1]:
            target = target[part]
        target[keys[-1]] = value
    return tuned


def _evaluate(report, **changes):
    return report.evaluate(_results(tuned=_changed(**changes)))


def test_every_target_met_is_said_so(report):
    rows, below, missed = _evaluate(report)
    assert (below, missed) == ([], [])
    assert {row[-1] for row in rows if row[-2]} == {"met"}


@pytest.mark.parametrize("change,figure", [
    ({"hold__held": 19999}, "WebSockets held 60 s"),
    ({"hold__dropped": 1}, "dropped connections"),
    ({"hold__kib_per_connection": 100.1}, "memory per connection"),
    ({"hold__kib_per_connection": None}, "memory per connection"),   # not measured: not passed
    ({"hold__spread": None}, "spread over Daphne processes"),
    ({"http__ratio": 0.84}, "ratio nginx / direct"),
    ({"http__nginx__errors": 3}, "failed requests via nginx"),
    ({"broadcast__delivery_ms__p99": 251.0}, "per delivery: latency p99"),
    ({"broadcast__message_ms__p99": 251.0}, "per message, until the last subscriber has it: p99"),
    ({"broadcast__lost": 1}, "deliveries lost"),
    ({"broadcast__messages_incomplete": 1}, "messages some subscriber never got"),
    ({"broadcast__every_process_subscribed": False}, "every Daphne process has subscribers"),
    ({"deploy__run2__seconds": 30.0}, "Deploy: second, no-change run"),
    ({"deploy__run2__changed": 1}, "second run changed"),
])
def test_below_a_floor_fails_naming_the_figure(report, change, figure):
    _rows, below, _missed = _evaluate(report, **change)
    assert len(below) == 1 and below[0].startswith("tuned: " + figure), below


@pytest.mark.parametrize("change,figure", [
    ({"hold__kib_per_connection": 90.0}, "memory per connection"),
    ({"http__ratio": 0.9}, "ratio nginx / direct"),
    ({"broadcast__delivery_ms__p99": 200.0}, "per delivery: latency p99"),
    ({"broadcast__message_ms__max": 900.0}, "per message, until the last subscriber has it: max"),
    ({"deploy__run2__seconds": 25.0}, "Deploy: second, no-change run"),
    ({"hold__held": 39999}, "WebSockets held 60 s"),
    ({"hold__kib_added_per_connection": 64.1}, "memory the connections added"),
    ({"broadcast_big__subscribers": 9999}, "Large broadcast: subscribers"),
    ({"broadcast_big__message_ms__p99": 500.1}, "per message, until the last subscriber has it: p99"),
    ({"broadcast_big__lost": 1}, "deliveries lost"),
])
def test_above_the_floor_a_missed_target_is_reported_not_failed(report, change, figure):
    _rows, below, missed = _evaluate(report, **change)
    assert below == []
    assert len(missed) == 1 and missed[0].startswith("tuned: " + figure), missed


def test_a_missing_section_is_below_its_floors(report):
    tuned = copy.deepcopy(TUNED)
    del tuned["broadcast"]
    _rows, below, _missed = report.evaluate(_results(tuned=tuned))
    assert "tuned: per delivery: latency p99 (ms): n/a (floor <= 250, target <= 150)" in below, below


def test_a_run_without_the_large_broadcast_shows_it_not_run_without_verdict(report):
    tuned = copy.deepcopy(TUNED)
    del tuned["broadcast_big"]
    rows, below, missed = report.evaluate(_results(tuned=tuned))
    assert (below, missed) == ([], [])
    big = rows[[row[0] for row in rows].index("Large broadcast: subscribers (read by several load processes)")]
    assert big[1:] == ["not run", "", ">= 10,000", ""]


def test_a_run_without_http_rounds_shows_them_not_run_without_verdict(report):
    tuned = copy.deepcopy(TUNED)
    tuned["http"] = {"skipped": "--wrk-rounds 0"}
    rows, below, missed = report.evaluate(_results(tuned=tuned))
    assert (below, missed) == ([], [])
    ratio = rows[[row[0].strip() for row in rows].index("ratio nginx / direct (median of the paired rounds' ratios)")]
    assert ratio[1:] == ["not run", ">= 0.85", ">= 0.95", ""]


def test_a_large_broadcast_that_failed_misses_its_targets(report):
    tuned = copy.deepcopy(TUNED)
    tuned["broadcast_big"] = {"error": "RuntimeError: subscriber process: TimeoutError"}
    _rows, below, missed = report.evaluate(_results(tuned=tuned))
    assert below == []
    assert [item.split(":")[1].strip() for item in missed] == [
        "Large broadcast", "per message, until the last subscriber has it", "deliveries lost",
        "every Daphne process has subscribers"], missed


def test_an_unjudged_configuration_is_shown_without_verdict(report):
    guide = _changed(hold__held=764)
    rows, below, missed = report.evaluate(_results(tuned=TUNED, guide=guide))
    held = next(row for row in rows if row[0] == "WebSockets held 60 s through nginx")
    assert held[1:] == ["40,000", "764", ">= 20,000", ">= 40,000", "met"]
    assert (below, missed) == ([], [])


# --- configurations --------------------------------------------------------------------------------


def test_every_committed_configuration_loads(bench):
    configs = bench.load_configs()
    assert {"tuned", "guide"} <= set(configs)
    for config in configs.values():
        assert ("vars" in config) != ("setup" in config)
        assert "setup" not in config or pathlib.Path(config["setup"]).is_file()


def test_the_baseline_uses_no_role(bench):
    """The guide's baseline is a setup of its own: no asgi.channels role or variable in it."""
    setup = pathlib.Path(bench.load_configs()["guide"]["setup"])
    text = "".join(line for path in setup.parent.iterdir() for line in path.read_text().splitlines(True)
                   if not line.lstrip().startswith(("#", ";")))
    assert "tasks:" in text and "[fcgi-program:asgi]" in text
    assert "asgi.channels" not in text and "include_role" not in text and "import_role" not in text


@pytest.mark.parametrize("body", [
    "description: x\n",                                   # neither vars nor setup
    "description: x\nvars: {}\nsetup: a.yml\n",            # both
    "vars: {}\n",                                         # no description
    "description: x\nvars: {}\nbogus: 1\n",                # unknown key
])
def test_a_malformed_configuration_is_refused(bench, tmp_path, body):
    (tmp_path / "bad.yml").write_text(body)
    with pytest.raises(ValueError):
        bench.load_configs(str(tmp_path))


def test_a_vars_configuration_runs_the_demo_playbook_with_its_variables(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "OUT", str(tmp_path))
    argv = bench.playbook_argv("x", {"vars": {"nginx_worker_processes": "4"}})
    assert argv[-1] == "scripts/demo/demo.yml"
    assert (tmp_path / "x-vars.json").read_text() == '{"nginx_worker_processes": "4"}'


# --- memory ----------------------------------------------------------------------------------------


def test_memory_per_connection_is_peak_rss_over_connections(bench):
    figures = bench.memory_figures({"rss_kib": 200_000}, [{"rss_kib": 900_000}, {"rss_kib": 1_400_000}], 20_000)
    assert figures["kib_per_connection"] == 70.0
    assert figures["kib_added_per_connection"] == 60.0
    assert figures["rss_peak_kib"] == 1_400_000


@pytest.mark.parametrize("samples,held", [([], 20_000), ([{"rss_kib": 900_000}], 0)])
def test_memory_without_a_measurement_is_none(bench, samples, held):
    figures = bench.memory_figures({"rss_kib": 200_000}, samples, held)
    assert figures["kib_per_connection"] is None
    assert figures["kib_added_per_connection"] is None


# --- HTTP rounds -----------------------------------------------------------------------------------


def _wrk(rate, errors=0, url="u"):
    return {"requests_per_s": rate, "p50_ms": 1000.0 / rate, "p99_ms": 2000.0 / rate, "errors": errors, "url": url}


def test_http_summary_takes_each_paths_median_round(bench):
    summary = bench.http_summary([_wrk(700.0), _wrk(450.0), _wrk(690.0)], [_wrk(760.0), _wrk(750.0), _wrk(500.0)])
    assert summary["nginx"]["requests_per_s"] == 690.0
    assert summary["direct"]["requests_per_s"] == 750.0


def test_http_ratio_is_the_median_of_the_rounds_ratios(bench):
    """A round where the machine was slow for both paths cancels out; one path's bad round
    does not decide the figure."""
    summary = bench.http_summary([_wrk(700.0), _wrk(450.0), _wrk(690.0)], [_wrk(760.0), _wrk(750.0), _wrk(500.0)])
    assert summary["round_ratios"] == [0.921, 0.6, 1.38]
    assert summary["ratio"] == 0.921
    assert (summary["ratio_min"], summary["ratio_max"]) == (0.6, 1.38)


def test_http_ratio_fails_when_most_rounds_are_slow_through_nginx(bench):
    summary = bench.http_summary([_wrk(600.0), _wrk(610.0), _wrk(800.0)], [_wrk(760.0)] * 3)
    assert summary["ratio"] == 0.803


def test_http_p50_is_the_median_of_the_rounds_p50(bench):
    summary = bench.http_summary([_wrk(700.0), _wrk(450.0), _wrk(690.0)], [_wrk(750.0)] * 3)
    assert summary["nginx"]["p50_ms"] == round(1000.0 / 690.0, 2)


def test_http_p99_is_the_worst_rounds(bench):
    """One slow round shows in the p99 (the rounds' p99 are not averaged away)."""
    summary = bench.http_summary([_wrk(700.0), _wrk(100.0), _wrk(690.0)], [_wrk(750.0)] * 3)
    assert summary["nginx"]["p99_ms"] == 20.0


def test_http_summary_counts_the_errors_of_every_round(bench):
    summary = bench.http_summary([_wrk(700.0, 2), _wrk(700.0), _wrk(700.0, 1)], [_wrk(750.0)] * 3)
    assert summary["nginx"]["errors"] == 3
    assert summary["direct"]["errors"] == 0


def test_http_rounds_alternate_which_path_goes_first(bench, monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "wrk", lambda _name, url, _opts: calls.append(url) or _wrk(700.0, url=url))
    opts = bench.parse_args(["--wrk-rounds", "4"], {"tuned": {}})
    summary = bench.http_phase("c", opts)
    first = ["nginx" if ":8000" not in calls[index] else "direct" for index in range(0, 8, 2)]
    assert first == ["nginx", "direct", "nginx", "direct"] == summary["first_in_round"]
    assert len(summary["round_ratios"]) == 4


# --- published results ------------------------------------------------------------------------------

REPO = BENCH_DIR.parents[1]
PUBLISHED = sorted((REPO / "docs" / "bench-results").glob("*.json"))


def _blocks():
    for path in [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md")):
        for match in _load("report").MARKER.finditer(path.read_text()):
            yield pytest.param(path, match, id="%s:%s" % (path.name, match.group("file")))


def test_the_docs_quote_at_least_one_results_file():
    assert list(_blocks()), "README.md or docs/*.md must hold a <!-- bench-results: FILE --> block"


def _compare_blocks():
    for path in [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md")):
        for match in _load("report").COMPARE.finditer(path.read_text()):
            yield pytest.param(path, match, id="%s:compare" % path.name)


def test_the_docs_compare_the_configurations():
    assert list(_compare_blocks()), "docs/benchmark.md must hold a <!-- bench-compare: FILE... --> block"


@pytest.mark.parametrize("path,match", list(_compare_blocks()))
def test_a_comparison_in_the_docs_is_its_files(report, path, match):
    """Each comparison is what its committed results files give, and names only published ones."""
    files = match.group("files").split()
    for name in files:
        assert name.startswith("docs/bench-results/") and (REPO / name).is_file(), name
    runs = [(name, json.loads((REPO / name).read_text())) for name in files]
    assert match.group("body") == report.compare_block(runs, str(path.parent.relative_to(REPO))), (
        "%s: the comparison differs from its files: run python scripts/bench/report.py readme" % path)


def test_a_comparison_has_a_column_per_configuration_of_each_file(report):
    guide = copy.deepcopy(TUNED)
    guide["hold"]["held"] = 764
    runs = [("docs/bench-results/a.json", {"machine": {"git_head": "abc1234", "date": "2026-12-07 10:00 UTC"},
                                           "settings": SETTINGS, "configurations": JUDGED,
                                           "configs": {"guide": guide, "tuned": TUNED}}),
            ("docs/bench-results/b.json", {"machine": {"git_head": "def5678", "date": "2026-12-07 11:00 UTC"},
                                           "settings": SETTINGS, "configurations": JUDGED,
                                           "configs": {"tuned": _changed(hold__held=39000)}})]
    body = report.compare_block(runs, "docs")
    assert "| Figure | guide | tuned | tuned | floor | target |" in body
    assert "| WebSockets held 60 s through nginx | 764 | 40,000 | 39,000 | >= 20,000 | >= 40,000 |" in body
    assert "[b.json](bench-results/b.json), git def5678" in body
    assert body.count("Load: 20,000 WebSockets") == 1  # one load, said once
    assert "Large broadcast" in body  # TUNED has one


def test_a_comparison_leaves_out_a_phase_none_of_its_runs_had(report):
    tuned = copy.deepcopy(TUNED)
    del tuned["broadcast_big"]
    run = {"machine": {"git_head": "abc1234", "date": "2026-12-07 10:00 UTC"}, "settings": SETTINGS,
           "configurations": JUDGED, "configs": {"tuned": tuned}}
    body = report.compare_block([("docs/bench-results/a.json", run)], "docs")
    assert "Large broadcast" not in body and "not run" not in body
    assert "| per message, until the last subscriber has it: p99 (ms) | 120.0 | <= 250 | <= 250 |" in body


@pytest.mark.parametrize("path,match", list(_blocks()))
def test_a_results_table_in_the_docs_is_its_files(report, path, match):
    """Each published table is what its committed results file gives (python scripts/bench/report.py readme)."""
    results = json.loads((REPO / match.group("file")).read_text())
    doc_dir = str(path.parent.relative_to(REPO))
    assert match.group("body") == report.readme_block(results, match.group("file"), doc_dir), (
        "%s: the table differs from %s: run python scripts/bench/report.py readme" % (path, match.group("file")))


@pytest.mark.parametrize("path", [p for p in PUBLISHED if "configurations" in p.read_text()], ids=lambda p: p.name)
def test_a_published_results_file_has_its_report_beside_it(report, path):
    results = json.loads(path.read_text())
    assert path.with_suffix(".md").read_text() == report.markdown(results)
    assert path.stem == report.published_name(results)
    assert not results["machine"]["git_dirty"], "a published run is of a committed revision"


def test_probe_finds_systemd_instances_by_their_cgroup(monkeypatch):
    probe = _load("probe")
    cgroups = {
        "/proc/10/cgroup": b"0::/system.slice/system-asgi.slice/asgi@0.service\n",
        "/proc/11/cgroup": b"0::/system.slice/system-asgi.slice/asgi@12.service\n",
        # a worker of the program, another program's instance, supervisord's child
        "/proc/12/cgroup": b"0::/system.slice/system-asgi\\x2dbackground.slice/asgi-background@0.service\n",
        "/proc/13/cgroup": b"0::/system.slice/system-other.slice/other@0.service\n",
        "/proc/14/cgroup": b"0::/system.slice/supervisor.service\n",
    }
    monkeypatch.setattr(probe, "_read", lambda path: cgroups.get(path, b""))
    found = [pid for pid in range(10, 15) if probe._systemd_instance(pid, "asgi")]
    assert found == [10, 11]


def test_the_http_phase_compares_nginx_with_the_configurations_direct_url(bench, monkeypatch):
    """The split serves the pages from gunicorn's socket: its configuration names that one."""
    calls = []
    monkeypatch.setattr(bench, "wrk", lambda _name, url, _opts: calls.append(url) or _wrk(700.0, url=url))
    opts = bench.parse_args(["--wrk-rounds", "2"], {"split": {}})
    bench.http_phase("c", opts, bench.load_configs()["split"]["direct_url"])
    assert sorted(set(calls)) == ["http://127.0.0.1/health/", "http://127.0.0.1:8100/health/"]
    assert bench.load_configs()["tuned"]["direct_url"] == "http://127.0.0.1:8000/health/"


# --- the probe's app ports, a configuration's own load --------------------------------------------


@pytest.mark.parametrize("owned,expected", [
    # the shared socket (8000, inherited by every process): its accepted connections, not Redis'
    ({"l8000": ("0A", 8000), "a": ("01", 8000), "b": ("01", 8000), "redis": ("01", 41000)}, (2, [8000])),
    # a port per process: this one listens on 8001
    ({"l8001": ("0A", 8001), "a": ("01", 8001), "other": ("01", 8000)}, (1, [8001])),
    # no listening socket: nothing counted
    ({"a": ("01", 8000)}, (0, [])),
])
def test_the_probe_counts_connections_on_the_ports_a_process_listens_on(owned, expected):
    probe = _load("probe")
    sockets = dict(owned, stranger=("01", 8000))  # another process's connection to 8000
    assert probe.app_connections(set(owned), sockets) == expected


def _configs_with_capacity(bench):
    configs = bench.load_configs()
    assert configs["capacity"]["load"], "capacity.yml carries its own load"
    return configs


def test_a_configuration_with_a_load_runs_with_it(bench):
    configs = _configs_with_capacity(bench)
    opts = bench.apply_load(bench.parse_args(["--only", "capacity"], configs), ["capacity"], configs,
                            ["--only", "capacity"])
    assert (opts.connections, opts.processes, opts.big_subscribers) == (40000, 10, 10000)


def test_the_command_line_wins_over_a_configurations_load(bench):
    configs = _configs_with_capacity(bench)
    argv = ["--only", "capacity", "--connections", "4000"]
    opts = bench.apply_load(bench.parse_args(argv, configs), ["capacity"], configs, argv)
    assert (opts.connections, opts.big_subscribers) == (4000, 10000)


def test_a_configuration_with_a_load_runs_alone(bench):
    configs = _configs_with_capacity(bench)
    argv = ["--only", "capacity", "--only", "tuned"]
    with pytest.raises(SystemExit):
        bench.apply_load(bench.parse_args(argv, configs), ["capacity", "tuned"], configs, argv)


def test_the_comparison_runs_every_configuration_without_a_load_of_its_own(bench):
    configs = bench.load_configs()
    comparison = [name for name in configs if not configs[name]["load"]]
    assert "capacity" not in comparison
    assert {"tuned", "pubsub", "uvicorn", "systemd", "split", "port", "guide"} <= set(comparison)
