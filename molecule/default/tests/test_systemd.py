"""systemd as the process manager (daphne_process_manager: systemd) on default-systemd: the site's
own tests (test_site.py: page, health, WebSocket echo, a broadcast between two processes) and the
restarts (test_zz_restarts.py: Redis restart, reboot) run there as on every host. Here: what systemd
runs and how (PID 1's socket on fd 3, the app user, the sandbox, the journal, no supervisor), then
the faults under load (kill -9 one instance, each instance stopped and started in turn, a redeploy),
socket activation with every instance stopped, then switches on the converged host: a port per
process under systemd and the shared socket again, each leaving nothing of the other. The switches
between the process managers, each leaving nothing of the other, run on default-split
(test_split.py: to systemd with the split, back to supervisor all-ASGI).
"""

import pathlib
import re
import shutil
import time

import pytest

from conftest import (asgi_status, kill_under_load, manager_leftovers, process_number, run_playbook, steady_load, wait_until,
                      wsclient)

SYSTEMD_HOSTS = {"default-systemd"}
PROGRAM = "asgi"
BACK_WITHIN = 5
# systemd-analyze security's exposure (0 safest, 10 none) the sandbox must stay at or below; the
# test containers run it without PrivateUsers (the role's probe leaves it out there)
EXPOSURE_AT_MOST = 2.0
CHAT_ORIGIN = "--host-header localhost --origin http://localhost"
EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples"


# module scope: before the module's own fixtures (the faults, the switches), which must not run on
# the other hosts
@pytest.fixture(scope="module", autouse=True)
def systemd_only(host):
    if host.backend.get_hostname() not in SYSTEMD_HOSTS:
        pytest.skip("daphne_process_manager systemd runs on %s" % ", ".join(sorted(SYSTEMD_HOSTS)))


def pids(host):
    return {name: pid for name, (_state, pid) in asgi_status(host).items()}


def argv(host, pid):
    return host.file("/proc/%d/cmdline" % pid).content.decode().rstrip("\0").split("\0")


def listening_ports(host):
    """The app's ports listening (8000 and the next ones: daphne_socket's and a port per process)."""
    found = [line.split()[3].rsplit(":", 1) for line in host.run("ss -Hltn").stdout.splitlines()]
    return sorted(int(port) for _address, port in found if 8000 <= int(port) < 8100)


def all_running(host, count=2):
    status = asgi_status(host)
    return len(status) == count and all(state == "RUNNING" for state, _pid in status.values())


# --- what runs, and how ----------------------------------------------------------------------------

@pytest.mark.parametrize("unit", ["asgi@0.service", "asgi@1.service", "asgi-background@0.service"])
def test_each_instance_is_active(host, unit):
    assert host.service(unit).is_running, host.run("systemctl status --no-pager %s", unit).stdout


def test_pid_1_holds_the_shared_socket_with_the_roles_backlog(host):
    shown = host.check_output("systemctl show --property=Listen,Backlog asgi.socket")
    assert "Listen=127.0.0.1:8000 (Stream)" in shown and "Backlog=1024" in shown, shown
    assert "LISTEN 0      1024" in host.check_output("ss -Hltn 'sport = :8000'")


def test_each_process_serves_the_socket_units_descriptor(host):
    for name, pid in pids(host).items():
        args = argv(host, pid)
        assert args[args.index("--fd") + 1] == "3", args
        # systemd passed it one socket (fd 3), to this very process (the launcher exec'd the server)
        environ = host.file("/proc/%d/environ" % pid).content.decode().split("\0")
        assert "LISTEN_FDS=1" in environ and "LISTEN_PID=%d" % pid in environ, (name, environ)


def test_every_process_runs_as_the_app_user(host):
    uid = host.user("daphne").uid
    for name, pid in list(pids(host).items()) + [("worker", int(host.check_output(
            "systemctl show --property=MainPID --value asgi-background@0.service")))]:
        status = host.file("/proc/%d/status" % pid).content_string
        assert re.search(r"^Uid:\s+%d\s+%d\s" % (uid, uid), status, re.M), (name, status)


def test_no_supervisor_is_installed(host):
    assert not host.package("supervisor").is_installed
    assert host.run("command -v supervisord").rc != 0


def test_the_processes_log_to_the_journal(host):
    # the entry point's start-up line (Daphne's access log goes there too)
    out = host.check_output("journalctl --no-pager -u asgi@0.service -o cat")
    assert "daphne-serve[" in out and "startup objects frozen" in out, out[-2000:]


def test_the_open_file_limit_is_capped_at_the_hosts_hard_limit(host):
    hard = re.search(r"^Max open files\s+\S+\s+(\S+)", host.file("/proc/1/limits").content_string, re.M).group(1)
    want = 65536 if hard == "unlimited" else min(65536, int(hard))
    for name, pid in pids(host).items():
        limits = host.file("/proc/%d/limits" % pid).content_string
        assert re.search(r"^Max open files\s+%d\s+%d\s" % (want, want), limits, re.M), (name, limits)


def test_the_sandbox_exposure_is_low(host):
    out = host.check_output("systemd-analyze security --no-pager asgi@0.service")
    exposure = float(re.search(r"Overall exposure level for asgi@0.service: ([0-9.]+)", out).group(1))
    print("systemd-analyze security asgi@0.service: exposure %.1f" % exposure)
    assert exposure <= EXPOSURE_AT_MOST, out


def mount_of(host, pid, path):
    """(mount root, options) of the mount that holds ``path`` in the process's own mount namespace
    (the longest mount point above it, from /proc/PID/mountinfo; of mounts stacked on one point, the
    last, which hides the others)."""
    best = ("", "", "")
    for line in host.file("/proc/%d/mountinfo" % pid).content_string.splitlines():
        fields = line.split()
        point = fields[4].replace("\\040", " ")
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best[0]):
            best = (point, fields[3], fields[5])
    return best[1], best[2].split(",")


# What the process sees (ProtectSystem=strict with the role's ReadWritePaths): its mounts, read from
# outside (entering its namespace needs CAP_SYS_PTRACE, which the test containers lack)
@pytest.mark.parametrize("path,writable", [
    ("/srv/asgi/shared", True), ("/run/daphne", True), ("/var/www/asgi/media", True),
    ("/srv/asgi/releases", False), ("/var/www/asgi/static", False), ("/etc", False), ("/usr/local", False),
])
def test_the_process_can_write_only_where_the_app_does(host, path, writable):
    _root, options = mount_of(host, pids(host)["asgi@0.service"], path)
    assert ("rw" in options) == writable and ("ro" in options) != writable, (path, options)


def test_the_process_has_a_tmp_of_its_own(host):
    root, options = mount_of(host, pids(host)["asgi@0.service"], "/tmp")
    assert "systemd-private-" in root and "rw" in options, (root, options)


# --- faults under load -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def killed(host):
    return kill_under_load(host, "kill-9-systemd")


def test_a_killed_instance_is_back_within_5_s(killed):
    assert killed["back_after"] is not None and killed["back_after"] <= BACK_WITHIN, killed["load"]


def test_a_killed_instance_fails_no_request(killed):
    assert killed["load"].result["http"]["sent"] > 20 and killed["load"].result["http"]["failed"] == 0, killed["load"]


def test_clients_of_a_killed_instance_reconnect(killed):
    ws = killed["load"].result["ws"]
    assert ws["dropped"] > 0, "the killed process held no WebSocket: %s" % killed["load"]
    assert ws["reconnected"] == ws["dropped"] and ws["failed_reconnects"] == 0, killed["load"]


@pytest.fixture(scope="module")
def restarted_one_by_one(host, killed):
    """Under load, each instance stopped, left stopped for 2 s, started again, one after the other:
    the others serve meanwhile, and the socket stays PID 1's."""
    before = pids(host)
    with steady_load(host, "stop-start-systemd") as load:
        time.sleep(1)
        for name in sorted(before):
            host.run("systemctl stop %s", name)
            time.sleep(2)
            host.run("systemctl start %s", name)
            time.sleep(1)
        back_after = wait_until(lambda: all_running(host) and not set(pids(host).values()) & set(before.values()), 20)
        time.sleep(2)
    return {"before": before, "after": pids(host), "load": load, "back_after": back_after}


def test_stopping_and_starting_each_instance_fails_no_request(restarted_one_by_one):
    http = restarted_one_by_one["load"].result["http"]
    assert http["sent"] > 50 and http["failed"] == 0, "%s\n%s" % (restarted_one_by_one["load"], http["failures"])


def test_every_instance_is_back_with_a_new_process(restarted_one_by_one):
    assert restarted_one_by_one["back_after"] is not None, restarted_one_by_one


def test_clients_of_stopped_instances_reconnect(restarted_one_by_one):
    ws = restarted_one_by_one["load"].result["ws"]
    assert ws["dropped"] > 0 and ws["reconnected"] == ws["dropped"] and ws["failed_reconnects"] == 0, \
        restarted_one_by_one["load"]


@pytest.fixture(scope="module")
def socket_activated(host, restarted_one_by_one):
    """Every instance stopped (no load): the socket still listens, no process runs; then one request
    through nginx, which PID 1 answers by starting asgi@0 (the socket unit's Service=); then the
    target starts the rest."""
    host.run("systemctl stop asgi@0.service asgi@1.service")
    idle = {"socket": host.check_output("systemctl is-active asgi.socket"),
            "listening": host.run("ss -Hltn 'sport = :8000'").stdout.strip(),
            "instances": host.run("systemctl is-active asgi@0.service asgi@1.service").stdout.split()}
    answer = wsclient(host, "http http://127.0.0.1/health/ --host-header localhost --timeout 30")
    started = host.run("systemctl is-active asgi@0.service asgi@1.service").stdout.split()
    host.run("systemctl start asgi.target")
    wait_until(lambda: all_running(host), 20)
    return {"idle": idle, "answer": answer, "started": started}


def test_with_every_instance_stopped_the_socket_still_listens(socket_activated):
    idle = socket_activated["idle"]
    assert idle["instances"] == ["inactive", "inactive"], idle
    assert idle["socket"] == "active" and "127.0.0.1:8000" in idle["listening"], idle


def test_a_connection_to_the_idle_socket_starts_process_0_and_is_answered(socket_activated):
    assert socket_activated["answer"]["ok"], socket_activated["answer"]
    assert socket_activated["started"] == ["active", "inactive"], socket_activated


# --- a redeploy, then switches on the converged host ------------------------------------------------

def converge(host, **extra_vars):
    return run_playbook("converge.yml", limit=host.backend.get_hostname(), extra_vars=extra_vars or None)


@pytest.fixture(scope="module")
def redeployed(host, socket_activated, tmp_path_factory):
    """A new release of the sample app (one extra file) under load: a rolling restart."""
    root = tmp_path_factory.mktemp("systemd-release")
    shutil.copytree(EXAMPLES / "chat", root / "chat", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3"))
    (root / "chat" / "RELEASE.txt").write_text("a new release under systemd\n", encoding="utf-8")
    shutil.copy(EXAMPLES / "chat-deploy.yml", root / "chat-deploy.yml")
    before = pids(host)
    with steady_load(host, "redeploy-systemd") as load:
        proc = converge(host, chat_source_path=str(root / "chat"))
        time.sleep(2)
    return {"proc": proc, "load": load, "before": before, "after": pids(host)}


def test_a_redeploy_under_systemd_converges(redeployed):
    assert redeployed["proc"].returncode == 0, redeployed["proc"].stdout[-4000:]


def test_a_redeploy_under_systemd_replaces_every_process(redeployed):
    assert set(redeployed["after"]) == set(redeployed["before"])
    assert not set(redeployed["after"].values()) & set(redeployed["before"].values()), redeployed


def test_a_redeploy_under_systemd_fails_no_request(redeployed):
    http = redeployed["load"].result["http"]
    assert http["sent"] > 50 and http["failed"] == 0, "%s\n%s" % (redeployed["load"], http["failures"])


def test_clients_reconnect_after_a_redeploy_under_systemd(redeployed):
    ws = redeployed["load"].result["ws"]
    assert ws["dropped"] > 0 and ws["reconnected"] == ws["dropped"] and ws["failed_reconnects"] == 0, \
        redeployed["load"]


def site_works(host):
    """The page, a WebSocket echo and a broadcast between two processes, through nginx."""
    page = wsclient(host, "http http://127.0.0.1/ --host-header localhost")
    echo = wsclient(host, "probe ws://127.0.0.1/ws/echo/ %s --send hello-switch --expect hello-switch" % CHAT_ORIGIN)
    broadcast = wsclient(host, "broadcast ws://127.0.0.1/ws/chat/switch/ ws://127.0.0.1/ws/chat/switch/ %s "
                               "--send after-switch --expect after-switch --distinct pid" % CHAT_ORIGIN)
    return {"page": page["ok"], "echo": echo["ok"], "broadcast": broadcast["ok"], "detail": [page, echo, broadcast]}


@pytest.fixture(scope="module")
def switched(host, redeployed):
    """From the redeployed host: a port per process under systemd, then the shared socket again
    (converge.yml as the scenario runs it)."""
    result = {}
    for step, extra in [("port", {"daphne_binding": "port"}), ("shared", {})]:
        proc = converge(host, **extra)
        time.sleep(1)
        result[step] = {"proc": proc, "site": site_works(host), "left": manager_leftovers(host),
                        "ports": listening_ports(host), "status": asgi_status(host)}
    return result


STEPS = ["port", "shared"]


@pytest.mark.parametrize("step", STEPS)
def test_a_switch_converges(switched, step):
    assert switched[step]["proc"].returncode == 0, switched[step]["proc"].stdout[-4000:]


@pytest.mark.parametrize("step", STEPS)
def test_after_a_switch_the_site_serves_page_websocket_and_broadcast(switched, step):
    site = switched[step]["site"]
    assert site["page"] and site["echo"] and site["broadcast"], site["detail"]


def test_a_port_per_process_under_systemd_binds_a_port_each_and_no_socket_unit(switched):
    port = switched["port"]
    assert port["ports"] == [8000, 8001], port
    assert "asgi.socket" not in port["left"]["unit_files"], port["left"]
    assert not any(line.startswith("asgi.socket ") for line in port["left"]["units"]), port["left"]
    assert sorted(process_number(name) for name in port["status"]) == [0, 1], port["status"]


def test_back_to_the_shared_socket_under_systemd_the_socket_unit_holds_the_one_port(switched):
    shared = switched["shared"]
    assert shared["ports"] == [8000], shared
    assert "asgi.socket" in shared["left"]["unit_files"], shared["left"]
    assert any(line.startswith("asgi.socket ") and " active " in line for line in shared["left"]["units"]), shared["left"]
    assert sorted(shared["status"]) == ["asgi@0.service", "asgi@1.service"], shared["status"]
