#!/usr/bin/env python
"""`make bench`: the same load against every configuration of scripts/bench/configs/.

A configuration is one YAML file there (configs/README.md): either variables for the roles
(``vars``: the site playbook with the sample app, scripts/demo/demo.yml, as `make demo` deploys)
or a setup playbook of its own (``setup``: the guide's baseline, by hand, no role). Adding a
configuration is adding a file.

For each configuration, one after the other: a fresh container (the demo's capabilities, no
published port), its deployment run twice and timed, then the load from inside the container:
HTTP requests/s through nginx and straight to the app server (wrk, paired rounds, the order
alternating within the pairs), WebSockets held through nginx (scripts/bench/wsload.py hold,
several processes and source addresses), then, once the Daphne processes are idle again (no
connection left, < 5 % CPU), a chat room broadcast (wsload.py broadcast); the container is
removed after.
Writes .cache/bench/results.{json,md}, the same pair named <date>-<revision>[-dirty]-<configurations>
(what docs/bench-results/ keeps), and connections.png. Exit status 1 when a judged configuration
falls below a floor (each one printed); a missed target is reported, not an error.

usage: scripts/bench.sh [--only NAME]... [--connections N] [--hold S] ...  (see --help)
"""

import argparse
import datetime
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, ".cache", "bench")
IMAGE_SUITE = "trixie"
CACHE = "/var/cache/asgi-channels-test/bench/" + IMAGE_SUITE
CONFIG_DIR = os.path.join(ROOT, "scripts", "bench", "configs")
# where the HTTP phase reaches the app server without nginx: Daphne's shared socket (a configuration's
# direct_url overrides it)
DIRECT_URL = "http://127.0.0.1:8000/health/"
DEFAULT_LOGS = {"nginx": "/var/log/nginx/error.log", "daphne": "/var/log/daphne/asgi.log",
                "supervisor": "/var/log/supervisor/supervisord.log"}
IN_CONTAINER = "/opt/bench"
COPIED = ["molecule/shared/files/wsclient.py", "scripts/bench/wsload.py", "scripts/bench/probe.py"]
WS_OPTS = ["--host-header", "localhost", "--origin", "http://localhost"]
LOG_PATTERNS = {
    "nginx": [
        "worker_connections are not enough", "Too many open files", "upstream prematurely closed",
        "Connection reset by peer", "upstream timed out", "Connection refused", "Cannot assign requested address",
    ],
    "daphne": ["Traceback", "timed out", "Too many open files", "took too long to shut down", "WSREJECT"],
    "supervisor": ["exited", "spawned", "FATAL", "BACKOFF"],
}
SETTLE_CPU_PCT = 5.0  # idle: every Daphne process below this share of one core, over about a second


def log(message):
    print("bench: %s" % message, flush=True)


def load_configs(directory=CONFIG_DIR):
    """{name: configuration} of every <name>.yml in ``directory``: a description, whether the
    floors and targets apply to it (``judged``), and exactly one of ``vars`` (for the roles) or
    ``setup`` (a playbook of its own, relative to the directory); ``logs`` overrides log paths;
    ``direct_url`` is the app server the HTTP phase compares nginx with (the split's WSGI server
    serves the pages there, not Daphne's port)."""
    import yaml  # ansible-core's dependency, in the bench's .venv

    configs = {}
    for entry in sorted(os.listdir(directory)):
        if not entry.endswith(".yml"):
            continue
        name = entry[:-4]
        with open(os.path.join(directory, entry), encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
        unknown = set(config) - {"description", "judged", "vars", "setup", "logs", "direct_url", "load"}
        if unknown or ("vars" in config) == ("setup" in config) or "description" not in config:
            raise ValueError("%s: a description and exactly one of vars or setup (and judged, logs, direct_url, "
                             "load) are expected; unknown keys: %s" % (entry, sorted(unknown)))
        config["load"] = config.get("load") or {}
        config["judged"] = bool(config.get("judged", False))
        config["logs"] = dict(DEFAULT_LOGS, **config.get("logs", {}))
        config["direct_url"] = config.get("direct_url", DIRECT_URL)
        if "setup" in config:
            config["setup"] = os.path.join(directory, config["setup"])
        configs[name] = config
    return configs


def run(argv, check=True, **kwargs):
    """subprocess.run with text output captured."""
    return subprocess.run(argv, check=check, text=True, capture_output=True, **kwargs)


def dexec(name, *argv, check=True):
    return run(["docker", "exec", name, *argv], check=check)


# --- the container and the deployment ------------------------------------------------------------


def fact_cache(name):
    """The container's own Ansible fact cache (ansible.cfg caches facts; see scripts/demo.sh)."""
    return os.path.join(ROOT, ".cache", "facts", name)


def start_container(name):
    run(["docker", "rm", "-f", name], check=False)
    # A new container starts without cached facts: the first converge gathers them, as on a new host.
    shutil.rmtree(fact_cache(name), ignore_errors=True)
    for sub in ("apt", "pip"):
        os.makedirs(os.path.join(CACHE, sub), exist_ok=True)
    run([
        "docker", "run", "-d", "--name", name, "--hostname", name,
        "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
        "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp", "--stop-signal", "SIGRTMIN+3",
        "-v", CACHE + "/apt:/var/cache/apt/archives", "-v", CACHE + "/pip:/root/.cache/pip",
        "asgi-channels-test:" + IMAGE_SUITE, "/lib/systemd/systemd",
    ])


def secrets_file():
    path = os.path.join(OUT, "secrets.yml")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write('---\nchat_secret_key: "%s"\nchat_redis_password: "%s"\n'
                         % (secrets.token_urlsafe(50), secrets.token_urlsafe(24)))
    return path


def playbook_argv(config_name, config):
    """ansible-playbook's arguments for a configuration: its setup playbook, or the demo playbook
    with its variables (written to .cache/bench/<name>-vars.json, passed as extra variables)."""
    argv = ["ansible-playbook", "-i", "scripts/demo/inventory.yml", "-e", "@" + secrets_file()]
    if "setup" in config:
        return argv + [config["setup"]]
    vars_file = os.path.join(OUT, "%s-vars.json" % config_name)
    with open(vars_file, "w", encoding="utf-8") as handle:
        json.dump(config["vars"] or {}, handle)
    return argv + ["-e", "@" + vars_file, "scripts/demo/demo.yml"]


def converge(name, config_name, config, attempt):
    """One run of the configuration's playbook; its wall time and PLAY RECAP counts."""
    argv = playbook_argv(config_name, config)
    env = dict(os.environ, DEMO_CONTAINER=name, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_CACHE_PLUGIN_CONNECTION=fact_cache(name))
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, text=True, capture_output=True, check=False)
    seconds = round(time.monotonic() - started, 1)
    with open(os.path.join(OUT, "%s-converge%d.log" % (config_name, attempt)), "w", encoding="utf-8") as handle:
        handle.write(proc.stdout + proc.stderr)
    recap = {key: sum(int(n) for n in re.findall(r"\b%s=(\d+)" % key, proc.stdout))
             for key in ("ok", "changed", "failed", "unreachable")}
    if proc.returncode != 0:
        raise RuntimeError("converge %d of %s failed (rc %d): see .cache/bench/%s-converge%d.log"
                           % (attempt, config_name, proc.returncode, config_name, attempt))
    return {"seconds": seconds, **recap}


def prepare_tools(name):
    """wrk from Debian's archive (test tooling) and the load generator's files."""
    if dexec(name, "sh", "-c", "command -v wrk", check=False).returncode != 0:
        dexec(name, "sh", "-c", "apt-get install -y -q wrk >/dev/null 2>&1 || "
              "(apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null)")
    dexec(name, "mkdir", "-p", IN_CONTAINER)
    for path in COPIED:
        run(["docker", "cp", os.path.join(ROOT, path), "%s:%s/" % (name, IN_CONTAINER)])


def probe(name):
    return json.loads(dexec(name, "python3", IN_CONTAINER + "/probe.py").stdout)


def spread(per_pid):
    """Busiest / least busy of {pid: count}; None when empty or when one has none."""
    counts = sorted(per_pid.values())
    return round(counts[-1] / counts[0], 3) if counts and counts[0] else None


# --- HTTP ----------------------------------------------------------------------------------------


def wrk(name, url, opts):
    out = dexec(name, "wrk", "-t%d" % opts.wrk_threads, "-c%d" % opts.wrk_connections, "-d%ds" % opts.wrk_seconds,
                "--latency", "-H", "Host: localhost", url).stdout
    return dict(parse_wrk(out), url=url)


def parse_wrk(out):
    """wrk --latency's output: requests/s, p50/p99 (ms), non-2xx answers, socket errors, errors."""
    result = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "99"):
        value, unit = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % pct, out, re.M).groups()
        result["p%s_ms" % pct] = round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx"] = int(errors.group(1)) if errors else 0
    socket_errors = re.search(r"Socket errors: (.*)", out)
    result["socket_errors"] = socket_errors.group(1).strip() if socket_errors else None
    # wrk counts a failed answer as a request: the rate only means something with no errors
    result["errors"] = result["non_2xx"] + sum(
        int(count) for count in re.findall(r"\d+", result["socket_errors"] or ""))
    return result


def http_summary(nginx_runs, direct_runs):
    """The HTTP figures of paired wrk rounds. The ratio has one definition everywhere: the median
    of the rounds' ratios nginx/direct (a round's two runs follow each other, so they share the
    machine's state of that moment); its rounds' lowest and highest are shown beside it. Per path:
    the median requests/s of its rounds, p50 the median of the rounds' p50, p99 the highest of
    the rounds' p99 (one slow round shows), and the errors of all rounds."""
    def path(runs):
        return {"requests_per_s": round(statistics.median(run["requests_per_s"] for run in runs), 2),
                "p50_ms": round(statistics.median(run["p50_ms"] for run in runs), 2),
                "p99_ms": max(run["p99_ms"] for run in runs),
                "errors": sum(run["errors"] for run in runs),
                "rounds": [run["requests_per_s"] for run in runs], "url": runs[0]["url"]}
    ratios = [n["requests_per_s"] / d["requests_per_s"] for n, d in zip(nginx_runs, direct_runs)]
    return {"nginx": path(nginx_runs), "direct": path(direct_runs),
            "ratio": round(statistics.median(ratios), 3),
            "ratio_min": round(min(ratios), 3), "ratio_max": round(max(ratios), 3),
            "round_ratios": [round(ratio, 3) for ratio in ratios],
            "first_in_round": ["nginx" if index % 2 == 0 else "direct" for index in range(len(ratios))]}


def http_phase(name, opts, direct_url=DIRECT_URL):
    """--wrk-rounds pairs of wrk runs, through nginx and straight to the app server; the order
    alternates from one pair to the next, so neither path always runs on a machine the other has
    just warmed (or loaded). A moment of load elsewhere falls on one round, not the figure."""
    nginx_runs, direct_runs = [], []
    for index in range(opts.wrk_rounds):
        pair = [(nginx_runs, "http://127.0.0.1/health/"), (direct_runs, direct_url)]
        for runs, url in pair if index % 2 == 0 else reversed(pair):
            runs.append(wrk(name, url, opts))
    return http_summary(nginx_runs, direct_runs)


# --- WebSockets held -----------------------------------------------------------------------------


class HoldRun:
    """The load processes of one hold run, their per-second ticks and the probe's samples."""

    def __init__(self, name, opts):
        self.name, self.opts = name, opts
        self.ticks, self.results, self.samples = [], [], []
        self.lock = threading.Lock()

    def _reader(self, proc, index):
        for line in proc.stdout:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                if item.get("kind") == "tick":
                    self.ticks.append(dict(item, proc=index))
                else:
                    self.results.append(item)

    def _sampler(self, until):
        while time.time() < until:
            try:
                self.samples.append(probe(self.name))
            except (subprocess.CalledProcessError, ValueError):
                pass
            time.sleep(self.opts.sample_every)

    def start(self):
        opts = self.opts
        per_proc = -(-opts.connections // opts.processes)
        rate = opts.rate / opts.processes
        self.start_at = time.time() + 3
        self.hold_until = self.start_at + per_proc / rate + opts.handshake_timeout + opts.hold
        procs = []
        for index in range(opts.processes):
            argv = ["docker", "exec", self.name, "python3", IN_CONTAINER + "/wsload.py", "hold",
                    "ws://127.0.0.1/ws/echo/", *WS_OPTS, "--count", str(per_proc), "--rate", "%.3f" % rate,
                    "--start-at", "%.3f" % self.start_at, "--hold-until", "%.3f" % self.hold_until,
                    "--source", "127.0.0.%d" % (index + 2), "--timeout", str(opts.handshake_timeout)]
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
            threading.Thread(target=self._reader, args=(proc, index), daemon=True).start()
            procs.append(proc)
        sampler = threading.Thread(target=self._sampler, args=(self.hold_until - 1,), daemon=True)
        sampler.start()
        for proc in procs:
            proc.wait()
        sampler.join()
        time.sleep(0.5)

    def series(self):
        """[(seconds since the start, connections open over all processes)], one point a second."""
        latest, points = {}, []
        for tick in sorted(self.ticks, key=lambda item: item["t"]):
            latest[tick["proc"]] = tick["open"]
            second = int(tick["t"] - self.start_at)
            if points and points[-1][0] == second:
                points[-1] = (second, sum(latest.values()))
            else:
                points.append((second, sum(latest.values())))
        return points


def _sum_reasons(results, key):
    total = {}
    for result in results:
        for reason, count in result.get(key, {}).items():
            total[reason] = total.get(reason, 0) + count
    return total


def memory_figures(before, samples, held):
    """nginx + Daphne RSS at its peak during the hold, per connection held (the target's figure),
    and what the connections added to the idle processes' RSS, per connection. None without a
    sample or a connection: the idle figure must never stand in for a measurement."""
    peak = max((sample["rss_kib"] for sample in samples), default=None)
    measured = peak is not None and held > 0
    return {
        "rss_before_kib": before["rss_kib"], "rss_peak_kib": peak,
        "kib_per_connection": round(peak / held, 1) if measured else None,
        "kib_added_per_connection": round((peak - before["rss_kib"]) / held, 1) if measured else None,
    }


def hold_phase(name, opts):
    before = probe(name)
    load = HoldRun(name, opts)
    load.start()
    results = load.results
    busiest = max(load.samples, key=lambda s: sum(s["daphne_established"].values())) if load.samples else {}
    per_pid = busiest.get("daphne_established", {})
    held = sum(r.get("held_at_end", 0) for r in results)
    return {
        "attempted": sum(r.get("attempted", 0) for r in results),
        "opened": sum(r.get("opened", 0) for r in results),
        "failed_handshakes": sum(r.get("failed_handshakes", 0) for r in results),
        "dropped": sum(r.get("dropped", 0) for r in results),
        "held": held,
        "max_open": max((point[1] for point in load.series()), default=0),
        "handshake_errors": _sum_reasons(results, "handshake_errors"),
        "drop_reasons": _sum_reasons(results, "drop_reasons"),
        "errors": [r["error"] for r in results if "error" in r],
        "processes": opts.processes, "rate_per_s": opts.rate, "hold_s": opts.hold,
        "ramp_s": max((r.get("ramp_s", 0) for r in results), default=0),
        "handshake_ms_p99_max": max((r["handshake_ms_p99"] for r in results if r.get("handshake_ms_p99") is not None),
                                    default=None),
        "samples": len(load.samples),
        **memory_figures(before, load.samples, held),
        "daphne_established": per_pid,
        "spread": spread(per_pid),
        "nginx_workers_established": busiest.get("nginx_workers"),
        "series": load.series(),
    }


# --- broadcast -----------------------------------------------------------------------------------


def daphne_cpu_pct(before, after):
    """{pid: % of one core} each Daphne process used between two probe snapshots (pids in both)."""
    seconds = max(after["t"] - before["t"], 0.001)
    ticks = before["daphne_cpu_ticks"]
    return {pid: round(100.0 * (used - ticks[pid]) / after["clk_tck"] / seconds, 1)
            for pid, used in after["daphne_cpu_ticks"].items() if pid in ticks}


def idle(before, after):
    """Every Daphne process of ``after`` holds no established connection on the app port and used
    less than SETTLE_CPU_PCT of a core since ``before``."""
    cpu = daphne_cpu_pct(before, after)
    return (bool(cpu) and len(cpu) == len(after["daphne_cpu_ticks"])
            and not any(after["daphne_established"].values()) and max(cpu.values()) < SETTLE_CPU_PCT)


def settle(name, cap):
    """Wait until the Daphne processes are idle (the held connections torn down), at most ``cap``
    seconds, polling the probe about every second: {"settle_s", "settled"}."""
    started = time.monotonic()
    previous = probe(name)
    while time.monotonic() - started < cap:
        time.sleep(1.0)
        current = probe(name)
        if idle(previous, current):
            return {"settle_s": round(time.monotonic() - started, 1), "settled": True}
        previous = current
    return {"settle_s": round(time.monotonic() - started, 1), "settled": False}


def broadcast_phase(name, opts, room="bench", subscribers=None, messages=None, rate=None, processes=1):
    """wsload broadcast in the chat room ``room``: the standard one (--subscribers, --messages,
    --message-rate) unless told otherwise (the large room's)."""
    proc = dexec(name, "python3", IN_CONTAINER + "/wsload.py", "broadcast", "ws://127.0.0.1/ws/chat/%s/" % room,
                 *WS_OPTS, "--subscribers", str(subscribers or opts.subscribers),
                 "--messages", str(messages or opts.messages), "--rate", str(rate or opts.message_rate),
                 "--connect-batch", str(opts.connect_batch), "--processes", str(processes), check=False)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    pids = set(probe(name)["daphne"])  # JSON object keys: pids as strings, like subscribers_per_pid's
    per_pid = result.get("subscribers_per_pid", {})
    result["daphne_pids"] = len(pids)
    result["every_process_subscribed"] = bool(pids) and pids <= set(per_pid)
    result["spread"] = spread({pid: per_pid.get(pid, 0) for pid in pids})
    return result


# --- logs, machine -------------------------------------------------------------------------------


def log_counts(name, config_name, files):
    """Lines of interest in the configuration's logs ({key: path}), each log kept in .cache/bench."""
    counts = {}
    for key, path in files.items():
        text = dexec(name, "cat", path, check=False).stdout
        with open(os.path.join(OUT, "%s-%s.log" % (config_name, key)), "w", encoding="utf-8") as handle:
            handle.write(text[-2_000_000:])
        counts[key] = {pattern: text.count(pattern) for pattern in LOG_PATTERNS.get(key, []) if pattern in text}
    return counts


def machine():
    meminfo = open("/proc/meminfo", encoding="utf-8").read()
    image = run(["docker", "image", "inspect", "-f", "{{.Id}}", "asgi-channels-test:" + IMAGE_SUITE]).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "ram_gib": round(int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) / 1024 / 1024, 1),
        "kernel": os.uname().release,
        "docker": run(["docker", "version", "-f", "{{.Server.Version}}"]).stdout.strip(),
        "image": "asgi-channels-test:%s (%s)" % (IMAGE_SUITE, image[7:19]),
        "git_head": run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).stdout.strip(),
        # files changed but not committed (this directory's untracked results aside): the figures
        # then belong to no revision, and the report says so
        "git_dirty": bool(run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"]).stdout.strip()),
    }


# --- one configuration ---------------------------------------------------------------------------


def bench_config(config, settings, opts):
    name = "asgi-channels-bench-%s" % config
    log("%s: fresh container %s" % (config, name))
    start_container(name)
    try:
        result = {"deploy": {}}
        for attempt in (1, 2):
            log("%s: converge %d" % (config, attempt))
            result["deploy"]["run%d" % attempt] = converge(name, config, settings, attempt)
            log("%s: converge %d: %s" % (config, attempt, result["deploy"]["run%d" % attempt]))
        prepare_tools(name)
        if opts.wrk_rounds:
            log("%s: HTTP (wrk) through nginx and straight to the app server" % config)
            result["http"] = http_phase(name, opts, settings.get("direct_url", DIRECT_URL))
        else:
            result["http"] = {"skipped": "--wrk-rounds 0"}
        log("%s: %s" % (config, dict(result["http"])))
        log("%s: %d WebSockets at %s/s over %d processes, held %ss" % (
            config, opts.connections, opts.rate, opts.processes, opts.hold))
        result["hold"] = hold_phase(name, opts)
        log("%s: %s" % (config, {k: v for k, v in result["hold"].items() if k != "series"}))
        settled = settle(name, opts.settle_max)
        log("%s: Daphne idle after the hold: %s" % (config, settled))
        log("%s: broadcast to %d subscribers" % (config, opts.subscribers))
        result["broadcast"] = dict(broadcast_phase(name, opts), **settled)
        log("%s: %s" % (config, result["broadcast"]))
        if opts.big_subscribers:
            settled = settle(name, opts.settle_max)
            log("%s: broadcast to %d subscribers read by %d processes" % (
                config, opts.big_subscribers, opts.big_processes))
            result["broadcast_big"] = dict(broadcast_phase(
                name, opts, "bench-large", opts.big_subscribers, opts.big_messages, opts.big_message_rate,
                opts.big_processes), **settled)
            log("%s: %s" % (config, result["broadcast_big"]))
        result["logs"] = log_counts(name, config, settings["logs"])
        log("%s: log lines %s" % (config, result["logs"]))
        return result
    finally:
        if not opts.keep:
            run(["docker", "rm", "-f", name], check=False)


def parse_args(argv, configs):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(configs), action="append",
                        help="run this configuration only (repeat for several; default: all)")
    parser.add_argument("--connections", type=int, default=20000)
    parser.add_argument("--processes", type=int, default=5, help="load processes (one source address each)")
    parser.add_argument("--rate", type=float, default=200.0, help="new WebSockets per second, all processes")
    parser.add_argument("--hold", type=float, default=60.0, help="seconds every connection is held")
    parser.add_argument("--handshake-timeout", type=float, default=15.0)
    parser.add_argument("--sample-every", type=float, default=5.0)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wrk-connections", type=int, default=32)
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--wrk-rounds", type=int, default=9, help="wrk runs per path, the two paths in turn")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200, help="broadcast messages")
    parser.add_argument("--message-rate", type=float, default=2.0, help="broadcast messages sent per second")
    parser.add_argument("--connect-batch", type=int, default=50, help="broadcast subscribers connecting concurrently")
    parser.add_argument("--big-subscribers", type=int, default=0,
                        help="after the broadcast, a second one to this many subscribers (0: none)")
    parser.add_argument("--big-messages", type=int, default=100, help="the second broadcast's messages")
    parser.add_argument("--big-message-rate", type=float, default=1.0, help="the second broadcast's messages a second")
    parser.add_argument("--big-processes", type=int, default=4,
                        help="load processes reading the second broadcast's subscribers")
    parser.add_argument("--settle-max", type=float, default=120.0,
                        help="seconds at most to wait, after the hold, for idle Daphne processes")
    parser.add_argument("--keep", action="store_true", help="keep the containers (debugging)")
    return parser.parse_args(argv)


def apply_load(opts, chosen, configs, argv):
    """The run's options with the ``load`` of its configuration (one run, one load): a configuration
    with a load of its own runs alone, and only when named (--only); an option given on the
    command line wins over its load."""
    loads = [configs[name]["load"] for name in chosen if configs[name]["load"]]
    if not loads:
        return opts
    if len(chosen) > 1:
        raise SystemExit("bench: %s carry a load of their own and run alone (--only NAME)"
                         % ", ".join(name for name in chosen if configs[name]["load"]))
    given = {arg[2:].split("=", 1)[0].replace("-", "_") for arg in argv if arg.startswith("--")}
    for key, value in loads[0].items():
        if not hasattr(opts, key) or key in ("only", "keep"):
            raise SystemExit("bench: %s: load: %s is not an option of bench.py" % (chosen[0], key))
        if key not in given:
            setattr(opts, key, type(getattr(opts, key))(value))
    return opts


def main(argv=None):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import report  # noqa: E402  (next to this file)

    configs = load_configs()
    argv = sys.argv[1:] if argv is None else argv
    opts = parse_args(argv, configs)
    chosen = sorted(set(opts.only)) if opts.only else sorted(name for name in configs if not configs[name]["load"])
    opts = apply_load(opts, chosen, configs, argv)
    os.makedirs(OUT, exist_ok=True)
    started = time.monotonic()
    results = {"machine": machine(), "settings": {k: v for k, v in vars(opts).items() if k not in ("keep",)},
               "configurations": {name: {k: v for k, v in configs[name].items() if k != "setup"}
                                  for name in chosen},
               "configs": {}}
    for name in chosen:
        if "setup" in configs[name]:
            results["configurations"][name]["setup"] = os.path.relpath(configs[name]["setup"], ROOT)
    for config in chosen:
        try:
            results["configs"][config] = bench_config(config, configs[config], opts)
        except (RuntimeError, subprocess.CalledProcessError, ValueError, AttributeError, IndexError, KeyError,
                OSError) as exc:
            detail = getattr(exc, "stderr", "") or ""
            results["configs"][config] = {"error": "%s: %s %s" % (exc.__class__.__name__, exc, detail[-500:])}
            log("%s: FAILED %s" % (config, results["configs"][config]["error"]))
    results["wall_s"] = round(time.monotonic() - started, 1)
    return report.write(results, OUT)


if __name__ == "__main__":
    sys.exit(main())
