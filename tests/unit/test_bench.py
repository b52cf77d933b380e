"""The benchmark's arithmetic and verdicts (scripts/bench/bench.py and report.py), without Docker.

The scripts are not a package: they are loaded from their paths. What is checked here is what a
wrong figure in docs/benchmark.md would come from: wrk's output read into numbers, the spread,
the idle test before the broadcast, and a target passing only on a measured value.
"""

import copy
import importlib.util
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
    "hold": {"held": 20000, "failed_handshakes": 0, "dropped": 0, "handshake_ms_p99_max": 900.0,
             "kib_per_connection": 60.5, "kib_added_per_connection": 55.0, "spread": 1.04},
    "http": {"nginx": {"requests_per_s": 690.0, "p50_ms": 44.0, "p99_ms": 80.0, "errors": 0},
             "direct": {"requests_per_s": 758.0, "p50_ms": 40.0, "p99_ms": 70.0, "errors": 0},
             "ratio": 0.91, "round_ratios": [0.9, 0.91, 0.95]},
    "broadcast": {"deliveries_per_s": 1045.9, "fanout_ms_median": 109.0, "fanout_deliveries_per_s": 9174.3,
                  "latency_ms_p50": 109.0, "latency_ms_p99": 195.0, "lost": 0,
                  "every_process_subscribed": True, "spread": 1.1, "settle_s": 12.0, "settled": True},
    "deploy": {"run1": {"seconds": 62.6, "changed": 90}, "run2": {"seconds": 26.6, "changed": 0}},
    "logs": {"daphne": {}, "nginx": {}},
}


def _evaluate(report, **changes):
    tuned = copy.deepcopy(TUNED)
    for path, value in changes.items():
        section, key = path.split("__", 1)
        target = tuned[section]
        for part in key.split("__")[:-1]:
            target = target[part]
        target[key.split("__")[-1]] = value
    return report.evaluate({"configs": {"tuned": tuned}})


def test_every_target_met_passes(report):
    rows, missed = _evaluate(report)
    assert missed == []
    assert [row[4] for row in rows if row[3]] == ["PASS"] * len([row for row in rows if row[3]])


@pytest.mark.parametrize("change,figure", [
    ({"hold__held": 19999}, "WebSockets held 60 s"),
    ({"hold__dropped": 1}, "dropped connections"),
    ({"hold__kib_per_connection": 100.1}, "memory per connection"),
    ({"hold__kib_per_connection": None}, "memory per connection"),   # not measured: not passed
    ({"hold__spread": None}, "spread over Daphne processes"),
    ({"http__ratio": 0.84}, "ratio nginx/direct"),
    ({"http__nginx__errors": 3}, "failed requests via nginx"),
    ({"broadcast__latency_ms_p99": 251.0}, "delivery latency p99"),
    ({"broadcast__lost": 1}, "messages lost"),
    ({"broadcast__every_process_subscribed": False}, "every Daphne process has subscribers"),
    ({"deploy__run2__seconds": 30.0}, "Deploy: second run"),
    ({"deploy__run2__changed": 1}, "second run changed"),
])
def test_a_missed_target_is_reported(report, change, figure):
    _rows, missed = _evaluate(report, **change)
    assert len(missed) == 1 and missed[0].startswith(figure), missed


def test_a_missing_section_fails_its_targets(report):
    tuned = copy.deepcopy(TUNED)
    del tuned["broadcast"]
    _rows, missed = report.evaluate({"configs": {"tuned": tuned}})
    assert "delivery latency p99 (ms): n/a, target <= 250" in missed, missed


def test_guide_figures_are_shown_without_verdict(report):
    guide = copy.deepcopy(TUNED)
    guide["hold"]["held"] = 764
    rows, missed = report.evaluate({"configs": {"tuned": TUNED, "guide": guide}})
    held = next(row for row in rows if row[0] == "WebSockets held 60 s")
    assert held[1:] == ["20,000", "764", ">= 20,000", "PASS"]
    assert missed == []


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


def _wrk(rate, errors=0):
    return {"requests_per_s": rate, "p50_ms": 1000.0 / rate, "p99_ms": 2000.0 / rate, "errors": errors}


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


def test_http_ratio_fails_when_most_rounds_are_slow_through_nginx(bench):
    summary = bench.http_summary([_wrk(600.0), _wrk(610.0), _wrk(800.0)], [_wrk(760.0)] * 3)
    assert summary["ratio"] == 0.803


def test_http_summary_latency_is_the_median_rounds(bench):
    summary = bench.http_summary([_wrk(700.0), _wrk(450.0), _wrk(690.0)], [_wrk(750.0)] * 3)
    assert summary["nginx"]["p50_ms"] == 1000.0 / 690.0


def test_http_summary_counts_the_errors_of_every_round(bench):
    summary = bench.http_summary([_wrk(700.0, 2), _wrk(700.0), _wrk(700.0, 1)], [_wrk(750.0)] * 3)
    assert summary["nginx"]["errors"] == 3
    assert summary["direct"]["errors"] == 0
