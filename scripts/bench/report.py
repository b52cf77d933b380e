"""The bench's report: every figure of every configuration, and for each judged configuration
whether the figure is above its floor (else the run fails) and whether it meets its target.

Written as results.json and results.md in .cache/bench (plus the same pair named
<date>-<revision>-<configurations>, what docs/bench-results/ keeps) and connections.png.

The README's and docs' tables of a published run are generated from its committed results file:

  python scripts/bench/report.py readme      rewrite every <!-- bench-results: FILE --> block
                                             in README.md and docs/*.md from FILE, and every
                                             <!-- bench-compare: FILE... --> block (one column
                                             per configuration of the files) from its files

and tests/unit/test_bench.py fails when a block differs from what its file gives.
"""

import glob
import json
import operator
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _http(*keys):
    """An HTTP figure (r["http"][key]...), NOT_RUN when the run had no HTTP rounds (--wrk-rounds 0:
    a configuration without one direct path to compare nginx with, a port per process)."""
    def get(result):
        value = result["http"]
        if "skipped" in value:
            return NOT_RUN
        for key in keys:
            value = value[key]
        return value
    return get


class _NotRun:
    """The value of a figure whose phase the run did not have (the large broadcast of a standard
    run): shown as "not run", without a verdict, never below a floor."""

    def __str__(self):
        return "not run"


NOT_RUN = _NotRun()


def _big(getter):
    """A figure of the large broadcast (``broadcast_big``), NOT_RUN when the run had none."""
    return lambda r: getter(r["broadcast_big"]) if "broadcast_big" in r else NOT_RUN


def _pair(first, second):
    """A "a / b" figure; None when either is missing (a missing figure is never half shown),
    NOT_RUN when its phase did not run."""
    def get(result):
        a, b = first(result), second(result)
        if a is NOT_RUN or b is NOT_RUN:
            return NOT_RUN
        return None if a is None or b is None else "%s / %s" % (_fmt(a), _fmt(b))
    return get


# (figure, how to read it from a configuration's results, floor, target, in the README table).
# A floor or target is (operator, value) or None. Below a floor a judged configuration fails the
# run; the target is what the project aims at, reported met or missed.
FIGURES = [
    ("WebSockets held 60 s through nginx", lambda r: r["hold"]["held"], (">=", 20000), (">=", 40000), True),
    ("  failed handshakes", lambda r: r["hold"]["failed_handshakes"], ("==", 0), ("==", 0), True),
    ("  dropped connections", lambda r: r["hold"]["dropped"], ("==", 0), ("==", 0), True),
    ("  handshake p99 (ms, slowest load process)", lambda r: r["hold"]["handshake_ms_p99_max"], None, None, False),
    ("  memory per connection: nginx + Daphne RSS / connections (KiB)", lambda r: r["hold"]["kib_per_connection"],
     ("<=", 100), ("<=", 80), True),
    ("  memory the connections added, per connection (KiB, peak - idle RSS)",
     lambda r: r["hold"]["kib_added_per_connection"], None, ("<=", 64), True),
    ("  spread over Daphne processes (busiest / least)", lambda r: r["hold"]["spread"], ("<=", 1.5), ("<=", 1.2),
     True),
    ("HTTP req/s through nginx (median round)", _http("nginx", "requests_per_s"), None, None, True),
    ("HTTP req/s straight to the app server (median round)", _http("direct", "requests_per_s"), None, None, True),
    ("  ratio nginx / direct (median of the paired rounds' ratios)", _http("ratio"),
     (">=", 0.85), (">=", 0.95), True),
    ("  lowest / highest round ratio", _pair(_http("ratio_min"), _http("ratio_max")), None, None, True),
    ("  failed requests via nginx (non-2xx, socket errors)", _http("nginx", "errors"), ("==", 0), ("==", 0), False),
    ("  failed requests direct (non-2xx, socket errors)", _http("direct", "errors"), ("==", 0), ("==", 0), False),
    ("  latency via nginx p50 / p99 (ms; p99 of the worst round)",
     _pair(_http("nginx", "p50_ms"), _http("nginx", "p99_ms")), None, None, True),
    ("  latency direct p50 / p99 (ms; p99 of the worst round)",
     _pair(_http("direct", "p50_ms"), _http("direct", "p99_ms")), None, None, True),
    ("Broadcast: what stopped it (none: every subscriber joined and the messages were sent)",
     lambda r: r["broadcast"].get("error", "none"), None, None, True),
    ("  deliveries/s", lambda r: r["broadcast"]["deliveries_per_s"], None, None, False),
    ("  per delivery: latency p50 (ms)", lambda r: r["broadcast"]["delivery_ms"]["p50"], None, None, False),
    ("  per delivery: latency p99 (ms)", lambda r: r["broadcast"]["delivery_ms"]["p99"], ("<=", 250), ("<=", 150),
     True),
    ("  per delivery: latency max (ms)", lambda r: r["broadcast"]["delivery_ms"]["max"], None, None, False),
    ("  per message, until the last subscriber has it: p50 (ms)", lambda r: r["broadcast"]["message_ms"]["p50"],
     None, None, False),
    ("  per message, until the last subscriber has it: p99 (ms)", lambda r: r["broadcast"]["message_ms"]["p99"],
     ("<=", 250), ("<=", 250), True),
    ("  per message, until the last subscriber has it: max (ms)", lambda r: r["broadcast"]["message_ms"]["max"],
     None, ("<=", 500), True),
    ("  deliveries lost", lambda r: r["broadcast"]["lost"], ("==", 0), ("==", 0), True),
    ("  messages some subscriber never got", lambda r: r["broadcast"]["messages_incomplete"], ("==", 0), ("==", 0),
     False),
    ("  every Daphne process has subscribers", lambda r: r["broadcast"]["every_process_subscribed"], ("==", True),
     ("==", True), False),
    ("  subscribers' spread over Daphne processes (busiest / least)", lambda r: r["broadcast"]["spread"], None,
     None, False),
    ("  wait for idle Daphne processes before it (s)", lambda r: _settle(r["broadcast"]), None, None, False),
    ("Large broadcast: subscribers (read by several load processes)", _big(lambda b: b["subscribers"]), None,
     (">=", 10000), True),
    ("  what stopped it (none: every subscriber joined and the messages were sent)",
     _big(lambda b: b.get("error", "none")), None, None, True),
    ("  per message, until the last subscriber has it: p99 (ms)", _big(lambda b: b["message_ms"]["p99"]), None,
     ("<=", 500), True),
    ("  per message, until the last subscriber has it: max (ms)", _big(lambda b: b["message_ms"]["max"]), None,
     None, True),
    ("  per delivery: latency p99 (ms)", _big(lambda b: b["delivery_ms"]["p99"]), None, None, False),
    ("  deliveries/s", _big(lambda b: b["deliveries_per_s"]), None, None, False),
    ("  deliveries lost", _big(lambda b: b["lost"]), None, ("==", 0), True),
    ("  every Daphne process has subscribers", _big(lambda b: b["every_process_subscribed"]), None, ("==", True),
     False),
    ("Daphne log: tracebacks over the whole run", lambda r: r["logs"]["daphne"].get("Traceback", 0), None, None,
     False),
    ("Deploy: first run on a fresh container (s)", lambda r: r["deploy"]["run1"]["seconds"], None, None, True),
    ("Deploy: second, no-change run (s)", lambda r: r["deploy"]["run2"]["seconds"], ("<", 30), ("<", 20), True),
    ("  second run changed", lambda r: r["deploy"]["run2"]["changed"], ("==", 0), ("==", 0), True),
]
OPERATORS = {">=": operator.ge, "<=": operator.le, "<": operator.lt, "==": operator.eq}
MARKER = re.compile(r"(<!-- bench-results: (?P<file>\S+) -->\n)(?P<body>.*?)(<!-- /bench-results -->)", re.S)
# A comparison: one column per configuration of the results files it names (one run or several).
COMPARE = re.compile(r"(<!-- bench-compare: (?P<files>[^>]+?) -->\n)(?P<body>.*?)(<!-- /bench-compare -->)", re.S)


def _value(getter, result):
    try:
        return getter(result)
    except (KeyError, TypeError):
        return None


def _fmt(value):
    if value is None:
        return "n/a"
    if value is NOT_RUN:
        return str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "{:,.1f}".format(value) if abs(value) >= 10 else "{:.3g}".format(value)
    if isinstance(value, int):
        return "{:,}".format(value)
    return str(value)


def _bound(bound):
    return "%s %s" % (bound[0], _fmt(bound[1])) if bound else ""


def _settle(broadcast):
    """The wait before the broadcast, marked when the Daphne processes never became idle."""
    return "%s%s" % (_fmt(broadcast["settle_s"]), "" if broadcast["settled"] else " (not idle)")


def _judged(results):
    """The judged configurations of a run, in the run's order."""
    described = results.get("configurations", {})
    return [name for name in results["configs"] if described.get(name, {}).get("judged")]


def verdict(value, floor, target):
    """"below floor", "met", "missed" or "" (no bound, or a phase not run): a missing value is
    below any floor."""
    if value is NOT_RUN:
        return ""
    if floor is not None and (value is None or not OPERATORS[floor[0]](value, floor[1])):
        return "below floor"
    if target is None:
        return ""
    return "met" if value is not None and OPERATORS[target[0]](value, target[1]) else "missed"


def evaluate(results, readme_only=False):
    """Table rows [figure, value per configuration..., floor, target, verdict per judged
    configuration...], the list of figures below a floor and the list of targets missed."""
    configs, judged = results["configs"], _judged(results)
    rows, below, missed = [], [], []
    for figure, getter, floor, target, in_readme in FIGURES:
        if readme_only and not in_readme:
            continue
        values = {name: _value(getter, result) for name, result in configs.items()}
        verdicts = []
        for name in judged:
            said = verdict(values[name], floor, target)
            verdicts.append(said)
            text = "%s: %s: %s (floor %s, target %s)" % (
                name, figure.strip(), _fmt(values[name]), _bound(floor) or "none", _bound(target) or "none")
            if said == "below floor":
                below.append(text)
            elif said == "missed":
                missed.append(text)
        rows.append([figure] + [_fmt(values[name]) for name in configs] + [_bound(floor), _bound(target)] + verdicts)
    return rows, below, missed


def _header(results):
    judged = _judged(results)
    verdicts = ["%s: verdict" % name for name in judged]
    head = ["Figure"] + list(results["configs"]) + ["floor", "target"] + verdicts
    return ["| %s |" % " | ".join(head), "|---|" + "---:|" * len(results["configs"]) + "---|---|" + "---|" * len(judged)]


def _table(results, rows):
    return _header(results) + ["| %s |" % " | ".join(cell.strip() for cell in row) for row in rows]


def _settings_line(results):
    s = results["settings"]
    http = ("%s paired wrk rounds of %s s (%s threads, %s connections), the order alternating"
            % (s["wrk_rounds"], s["wrk_seconds"], s["wrk_threads"], s["wrk_connections"]) if s["wrk_rounds"] else "none")
    return ("Load: %s WebSockets opened at %s/s by %s processes and held %s s; HTTP: %s; broadcast: %s subscribers, "
            "%s messages at %s/s."
            % (_fmt(s["connections"]), _fmt(s["rate"]), s["processes"], _fmt(s["hold"]), http,
               _fmt(s["subscribers"]), s["messages"], _fmt(s["message_rate"]))
            + (" Large broadcast: %s subscribers read by %s load processes, %s messages at %s/s."
               % (_fmt(s["big_subscribers"]), s["big_processes"], s["big_messages"], _fmt(s["big_message_rate"]))
               if s.get("big_subscribers") else ""))


def _machine_line(results):
    m = results["machine"]
    return ("Machine: %s, %d cores, %s GiB RAM, kernel %s, Docker %s, image %s; git %s%s; `make bench` %s s."
            % (m["date"], m["nproc"], m["ram_gib"], m["kernel"], m["docker"], m["image"], m["git_head"],
               " with uncommitted changes" if m.get("git_dirty") else "", results["wall_s"]))


def _configs_lines(results):
    described = results.get("configurations", {})
    return ["- **%s**%s: %s" % (name, " (judged)" if described.get(name, {}).get("judged") else "",
                                described.get(name, {}).get("description", "")) for name in results["configs"]]


def markdown(results):
    """results.md: the machine, the configurations, the load, every figure."""
    rows, _below, _missed = evaluate(results)
    lines = [_machine_line(results), ""] + _configs_lines(results) + ["", _settings_line(results), ""]
    return "\n".join(lines + _table(results, rows)) + "\n"


def readme_block(results, path, doc_dir=""):
    """The body of a <!-- bench-results: path --> block (``path`` from the repository's root) in a
    document in ``doc_dir`` (from the root): the figures marked for the README."""
    rows, _below, _missed = evaluate(results, readme_only=True)
    m = results["machine"]
    link = os.path.relpath(path, doc_dir or ".")
    lines = ["From [%s](%s) (git %s, %s; every figure in the file):" % (
        os.path.basename(path), link, m["git_head"], m["date"]), ""]
    lines += _configs_lines(results) + ["", _settings_line(results), ""] + _table(results, rows)
    return "\n".join(lines) + "\n"


def compare_block(runs, doc_dir=""):
    """The body of a <!-- bench-compare: FILE... --> block: ``runs`` is [(path from the root,
    results)], in the block's order; one column per configuration of each, the figures marked for
    the README with their floor and target, every column's file, revision and load named."""
    columns = [(name, results, path) for path, results in runs for name in results["configs"]]
    lines = ["Generated from the results files by `python scripts/bench/report.py readme` (a unit test fails when "
             "this table differs from them); each file's `.md` beside it has every figure and the verdicts:", ""]
    for name, results, path in columns:
        described = results.get("configurations", {}).get(name, {})
        lines.append("- **%s**: %s ([%s](%s), git %s, %s)" % (
            name, described.get("description", ""), os.path.basename(path), os.path.relpath(path, doc_dir or "."),
            results["machine"]["git_head"], results["machine"]["date"]))
    loads = []
    for line in (_settings_line(results) for _name, results, _path in columns):
        if line not in loads:
            loads.append(line)
    lines += [""] + loads
    lines += ["", "| Figure | %s | floor | target |" % " | ".join(name for name, _r, _p in columns),
              "|---|" + "---:|" * len(columns) + "---|---|"]
    for figure, getter, floor, target, in_readme in FIGURES:
        if in_readme:
            values = [_fmt(_value(getter, results["configs"][name])) for name, results, _path in columns]
            if all(value == str(NOT_RUN) for value in values):
                continue  # a phase none of the runs had (the large broadcast of standard runs)
            lines.append("| %s | %s | %s | %s |" % (figure.strip(), " | ".join(values), _bound(floor), _bound(target)))
    return "\n".join(lines) + "\n"


def update_blocks(text, doc_dir="", root=ROOT):
    """``text`` (a document in ``doc_dir``) with every bench-results and bench-compare block
    regenerated from the files it names."""
    def load(path):
        with open(os.path.join(root, path), encoding="utf-8") as handle:
            return json.load(handle)

    def fill(match):
        return match.group(1) + readme_block(load(match.group("file")), match.group("file"), doc_dir) + match.group(4)

    def fill_compare(match):
        runs = [(path, load(path)) for path in match.group("files").split()]
        return match.group(1) + compare_block(runs, doc_dir) + match.group(4)
    return COMPARE.sub(fill_compare, MARKER.sub(fill, text))


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(figsize=(9, 4.5))
    for config, result in results["configs"].items():
        series = result.get("hold", {}).get("series") or []
        if series:
            axes.plot([p[0] for p in series], [p[1] for p in series], label=config)
    axes.set_xlabel("seconds since the ramp started")
    axes.set_ylabel("WebSockets open (all load processes)")
    axes.set_title("Connections held through nginx, per configuration")
    axes.grid(True, alpha=0.3)
    axes.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def published_name(results):
    """<date>-<revision>-<configurations>: the name the run's files get in docs/bench-results."""
    m = results["machine"]
    return "%s-%s%s-%s" % (m["date"][:10], m["git_head"], "-dirty" if m.get("git_dirty") else "",
                           "-".join(results["configs"]))


def write(results, out):
    """Write the files, print the table and the verdicts; 1 when a judged configuration is below
    a floor or a configuration failed, else 0 (missed targets are printed, not an error)."""
    _rows, below, missed = evaluate(results)
    errors = ["%s: %s" % (config, r["error"]) for config, r in results["configs"].items() if "error" in r]
    results["below_floor"] = below + errors
    results["targets_missed"] = missed
    table = markdown(results)
    for base in ("results", published_name(results)):
        with open(os.path.join(out, base + ".json"), "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2, sort_keys=True)
            handle.write("\n")
        with open(os.path.join(out, base + ".md"), "w", encoding="utf-8") as handle:
            handle.write(table)
    plot(results, os.path.join(out, "connections.png"))
    print()
    print(table)
    print("bench: wrote %s/results.{json,md}, the same as %s.{json,md}, and connections.png"
          % (os.path.relpath(out), published_name(results)))
    for item in missed:
        print("bench: target missed: %s" % item)
    for item in results["below_floor"]:
        print("bench: BELOW FLOOR: %s" % item)
    return 1 if results["below_floor"] else 0


def update_docs(root=ROOT):
    """Regenerate every bench-results block of README.md and docs/*.md; the files changed."""
    changed = []
    for path in [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md"))):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        new = update_blocks(text, os.path.relpath(os.path.dirname(path), root), root)
        if new != text:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(new)
            changed.append(os.path.relpath(path, root))
    return changed


if __name__ == "__main__":
    if sys.argv[1:] != ["readme"]:
        sys.exit("usage: report.py readme")
    for changed_path in update_docs():
        print("report: updated %s" % changed_path)
