"""The bench's report: figures against their targets (the "tuned" run must meet them; "guide" is
reported alongside), written as results.json, results.md and connections.png."""

import json
import operator
import os

# (figure, how to read it from a configuration's results, target as (operator, value) or None)
FIGURES = [
    ("WebSockets held 60 s", lambda r: r["hold"]["held"], (">=", 20000)),
    ("  failed handshakes", lambda r: r["hold"]["failed_handshakes"], ("==", 0)),
    ("  dropped connections", lambda r: r["hold"]["dropped"], ("==", 0)),
    ("  handshake p99 (ms, slowest load process)", lambda r: r["hold"]["handshake_ms_p99_max"], None),
    ("  memory per connection: nginx + Daphne RSS / connections (KiB)", lambda r: r["hold"]["kib_per_connection"],
     ("<=", 100)),
    ("  of which the connections added (KiB, peak - idle RSS)", lambda r: r["hold"]["kib_added_per_connection"], None),
    ("  spread over Daphne processes (busiest/least)", lambda r: r["hold"]["spread"], ("<=", 1.5)),
    ("HTTP req/s through nginx", lambda r: r["http"]["nginx"]["requests_per_s"], None),
    ("HTTP req/s straight to Daphne", lambda r: r["http"]["direct"]["requests_per_s"], None),
    ("  ratio nginx/direct (median of the rounds' ratios)", lambda r: r["http"]["ratio"], (">=", 0.85)),
    ("  ratio of each round", lambda r: " / ".join("%.2f" % x for x in r["http"]["round_ratios"]), None),
    ("  failed requests via nginx (non-2xx, socket errors)", lambda r: r["http"]["nginx"]["errors"], ("==", 0)),
    ("  failed requests direct (non-2xx, socket errors)", lambda r: r["http"]["direct"]["errors"], ("==", 0)),
    ("  p50 / p99 via nginx (ms)", lambda r: "%s / %s" % (r["http"]["nginx"]["p50_ms"], r["http"]["nginx"]["p99_ms"]),
     None),
    ("  p50 / p99 direct (ms)", lambda r: "%s / %s" % (r["http"]["direct"]["p50_ms"], r["http"]["direct"]["p99_ms"]),
     None),
    ("Broadcast to 1,000 subscribers: deliveries/s at the offered message rate",
     lambda r: r["broadcast"]["deliveries_per_s"], None),
    ("  fan-out of one message (ms, median)", lambda r: r["broadcast"]["fanout_ms_median"], None),
    ("  deliveries/s within a fan-out (subscribers / median fan-out)",
     lambda r: r["broadcast"]["fanout_deliveries_per_s"], None),
    ("  delivery latency p50 (ms)", lambda r: r["broadcast"]["latency_ms_p50"], None),
    ("  delivery latency p99 (ms)", lambda r: r["broadcast"]["latency_ms_p99"], ("<=", 250)),
    ("  messages lost", lambda r: r["broadcast"]["lost"], ("==", 0)),
    ("  every Daphne process has subscribers", lambda r: r["broadcast"]["every_process_subscribed"], ("==", True)),
    ("  subscribers' spread over Daphne processes (busiest/least)", lambda r: r["broadcast"]["spread"], None),
    ("  wait for idle Daphne processes before it (s)", lambda r: _settle(r["broadcast"]), None),
    ("Daphne log: tracebacks over the whole run", lambda r: r["logs"]["daphne"].get("Traceback", 0), None),
    ("Deploy: first converge (s)", lambda r: r["deploy"]["run1"]["seconds"], None),
    ("Deploy: second run (s)", lambda r: r["deploy"]["run2"]["seconds"], ("<", 30)),
    ("  second run changed", lambda r: r["deploy"]["run2"]["changed"], ("==", 0)),
]
OPERATORS = {">=": operator.ge, "<=": operator.le, "<": operator.lt, "==": operator.eq}


def _value(getter, result):
    try:
        return getter(result)
    except (KeyError, TypeError):
        return None


def _fmt(value):
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "{:,.1f}".format(value) if abs(value) >= 10 else "{:.3g}".format(value)
    if isinstance(value, int):
        return "{:,}".format(value)
    return str(value)


def _settle(broadcast):
    """The wait before the broadcast, marked when the Daphne processes never became idle."""
    return "%s%s" % (_fmt(broadcast["settle_s"]), "" if broadcast["settled"] else " (not idle)")


def evaluate(results):
    """Table rows [figure, tuned, guide, target, verdict] and the list of missed targets."""
    configs = results["configs"]
    rows, missed = [], []
    for figure, getter, target in FIGURES:
        tuned = _value(getter, configs.get("tuned", {}))
        guide = _value(getter, configs.get("guide", {}))
        verdict = ""
        if target is not None and "tuned" in configs:
            ok = tuned is not None and OPERATORS[target[0]](tuned, target[1])
            verdict = "PASS" if ok else "FAIL"
            if not ok:
                missed.append("%s: %s, target %s %s" % (figure.strip(), _fmt(tuned), target[0], _fmt(target[1])))
        shown = "%s %s" % (target[0], _fmt(target[1])) if target else ""
        rows.append([figure, _fmt(tuned), _fmt(guide), shown, verdict])
    return rows, missed


def markdown(results, rows):
    m = results["machine"]
    lines = [
        "Machine: %s, %d cores, %s GiB RAM, kernel %s, Docker %s, image %s; git %s; `make bench` %s s."
        % (m["date"], m["nproc"], m["ram_gib"], m["kernel"], m["docker"], m["image"], m["git_head"], results["wall_s"]),
        "",
        "| Figure | tuned (role defaults) | guide (literal, Debian defaults) | Target | tuned |",
        "|---|---:|---:|---|---|",
    ]
    lines += ["| %s |" % " | ".join(cell.strip() for cell in row) for row in rows]
    return "\n".join(lines) + "\n"


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
    axes.set_title("Connections held through nginx: role defaults vs the guide on Debian")
    axes.grid(True, alpha=0.3)
    axes.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results, out):
    """Write the three files, print the table; 1 when a target of "tuned" was missed."""
    rows, missed = evaluate(results)
    errors = ["%s: %s" % (config, r["error"]) for config, r in results["configs"].items() if "error" in r]
    results["missed"] = missed + errors
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2, sort_keys=True)
    table = markdown(results, rows)
    with open(os.path.join(out, "results.md"), "w", encoding="utf-8") as handle:
        handle.write(table)
    plot(results, os.path.join(out, "connections.png"))
    print()
    print(table)
    print("bench: wrote %s/results.{json,md} and connections.png" % os.path.relpath(out))
    for item in results["missed"]:
        print("bench: MISSED %s" % item)
    return 1 if results["missed"] else 0
