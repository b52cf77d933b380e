"""supervisord itself: service, control socket, open-file limit, kill mode of the unit."""

import re

SERVICE = "supervisor"
CONTROL_SOCKET = "/var/run/supervisor.sock"
# The hard RLIMIT_NOFILE of these machines' containers (PID 1): the role caps minfds (65536 by
# default) at it.
HOST_HARD_NOFILE_CMD = "awk '/^Max open files/ {print $5}' /proc/1/limits"


def _main_pid(host):
    return int(host.check_output("systemctl show -p MainPID --value %s", SERVICE))


def _show(host, prop):
    return host.check_output("systemctl show -p %s --value %s", prop, SERVICE)


def test_supervisord_is_running_and_enabled(host):
    service = host.service(SERVICE)
    assert service.is_running
    assert service.is_enabled


def test_supervisorctl_answers_with_the_units_main_pid(host):
    assert int(host.check_output("supervisorctl pid")) == _main_pid(host)


def test_control_socket_is_root_only(host):
    sock = host.file(CONTROL_SOCKET)
    assert sock.is_socket
    assert sock.user == "root"
    assert sock.group == "root"
    assert sock.mode == 0o700


def test_minfds_is_capped_at_the_hosts_hard_open_file_limit(host):
    hard = int(host.check_output(HOST_HARD_NOFILE_CMD))
    conf = host.file("/etc/supervisor/supervisord.conf").content_string
    minfds = int(re.search(r"^minfds=(\d+)$", conf, re.M).group(1))
    assert minfds == min(65536, hard)


def test_service_open_file_limit_matches_minfds(host):
    conf = host.file("/etc/supervisor/supervisord.conf").content_string
    minfds = re.search(r"^minfds=(\d+)$", conf, re.M).group(1)
    assert _show(host, "LimitNOFILE") == minfds
    limits = host.file("/proc/%d/limits" % _main_pid(host)).content_string
    soft, hard = re.search(r"^Max open files\s+(\d+)\s+(\d+)", limits, re.M).groups()
    assert soft == hard == minfds


def test_children_inherit_the_open_file_limit(host):
    conf = host.file("/etc/supervisor/supervisord.conf").content_string
    minfds = re.search(r"^minfds=(\d+)$", conf, re.M).group(1)
    child = host.check_output("supervisorctl pid pidecho:pidecho0")
    limits = host.file("/proc/%s/limits" % child).content_string
    assert re.search(r"^Max open files\s+%s\s+%s" % (minfds, minfds), limits, re.M)


def test_unit_kills_leftover_children_and_restarts_quickly(host):
    assert _show(host, "KillMode") == "mixed"
    assert _show(host, "Restart") == "on-failure"
    # RestartUSec is shown as e.g. "2s".
    assert _show(host, "RestartUSec") == "2s"


def test_configuration_file_is_the_roles(host):
    conf = host.file("/etc/supervisor/supervisord.conf")
    assert conf.mode == 0o644
    assert "files = /etc/supervisor/conf.d/*.conf" in conf.content_string
    assert "logfile=/var/log/supervisor/supervisord.log" in conf.content_string
