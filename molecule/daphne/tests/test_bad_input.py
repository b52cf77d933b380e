"""Cross-variable rules of asgi.channels.daphne fail before any change, naming the variable.

Each case runs converge.yml on one host with one bad variable; the play must fail in the role's
checks, say which variable is wrong, and leave the host as it was. The runs change nothing, so
they run three at a time, and share one fact cache (docs/deploying.md's "Fast runs": gathering
smart, jsonfile): the first runs gather the host's facts and installed packages, the others read
them instead of asking the host again (the checks read the same facts either way).
"""

import concurrent.futures
import re

import pytest

from conftest import ANSI, run_playbook
from daphne_helpers import ENV_FILE, all_hosts, current_release

CASES = {
    "no-asgi-path": ({"daphne_asgi_application": ""}, "daphne_asgi_application must name"),
    "asgi-path-without-attribute": ({"daphne_asgi_application": "chatsite.asgi"}, "daphne_asgi_application must name"),
    "zero-processes": ({"daphne_numprocs": 0}, "daphne_numprocs must be an integer >= 1"),
    "socket-without-port": ({"daphne_socket": "tcp://localhost"}, "daphne_socket must be tcp://HOST:PORT"),
    "socket-port-out-of-range": ({"daphne_socket": "tcp://localhost:70000"}, "daphne_socket must be tcp://HOST:PORT"),
    "socket-relative-unix-path": ({"daphne_socket": "unix://run/x.sock"}, "daphne_socket must be tcp://HOST:PORT"),
    "socket-ipv6-literal": ({"daphne_socket": "tcp://[::1]:8000"}, "daphne_socket must be tcp://HOST:PORT"),
    "program-name-with-a-space": ({"daphne_program_name": "my app"}, "daphne_program_name must be made of"),
    "gc-threshold-four-values": ({"daphne_gc_threshold": [700, 10, 10, 10]}, "daphne_gc_threshold must be []"),
    "gc-threshold-negative": ({"daphne_gc_threshold": [-1]}, "daphne_gc_threshold must be []"),
    "gc-threshold-beyond-a-c-int": ({"daphne_gc_threshold": [2 ** 40]}, "daphne_gc_threshold must be []"),
    "drain-not-below-stopwaitsecs": ({"daphne_drain_seconds": 15}, "daphne_drain_seconds (15) must be >= 0 and below"),
    # the supervisor role runs later in the play; its checks still come before any change
    "supervisor-socket-open-to-others": ({"supervisor_socket_mode": "0777"}, "supervisor_socket_mode an octal mode"),
    "unknown-source-type": ({"daphne_source_type": "svn"}, "daphne_source_type"),
    "git-without-repo": ({"daphne_source_type": "git"}, "git needs daphne_git_repo"),
    "package-without-package": ({"daphne_source_type": "package"}, "package\nneeds daphne_package"),
    "local-path-missing": ({"daphne_source_path": "/nonexistent/project"}, "local needs daphne_source_path"),
    "bind-option": ({"daphne_extra_args": ["-b", "0.0.0.0"]}, "daphne_extra_args must not hold"),
    "port-option": ({"daphne_extra_args": ["--port=8001"]}, "daphne_extra_args must not hold"),
    # a port per process needs a TCP address and room for every process's port
    "port-binding-on-a-unix-socket": (
        {"daphne_binding": "port", "daphne_socket": "unix:///run/asgi.sock"}, "daphne_binding port binds process N"),
    "port-binding-past-65535": (
        {"daphne_binding": "port", "daphne_socket": "tcp://localhost:65535"}, "PORT + daphne_numprocs - 1 <= 65535"),
    "unknown-binding": ({"daphne_binding": "fd"}, "daphne_binding must be one of: shared, port"),
    # systemd: a socket unit listens on an address, not a host name; the role owns some directives
    "systemd-socket-on-a-host-name": (
        {"daphne_process_manager": "systemd", "daphne_socket": "tcp://app.internal:8000"},
        "a socket unit's ListenStream= takes no host name"),
    "systemd-option-the-role-owns": (
        {"daphne_process_manager": "systemd", "daphne_systemd_options": {"ExecStart": "/bin/false"}},
        "daphne_systemd_options must map systemd [Service] directive names"),
    "systemd-worker-with-a-backslash": (
        {"daphne_process_manager": "systemd", "daphne_workers": [{"name": "w", "command": ["echo", "a\\nb"]}]},
        "a backslash, which systemd's ExecStart= reads as an escape"),
    # the split: gunicorn's socket must not be Daphne's, nor an option the role owns
    "split-wsgi-socket-is-the-asgi-socket": (
        {"daphne_split": True, "daphne_socket": "tcp://localhost:8000", "daphne_wsgi_socket": "tcp://localhost:8000"},
        "daphne_wsgi_socket must be tcp://HOST:PORT"),
    "worker-named-wsgi": (
        {"daphne_workers": [{"name": "wsgi", "command": ["python", "manage.py", "runworker", "x"]}]},
        "not wsgi (the split's program"),
    "split-wsgi-bind-option": (
        {"daphne_split": True, "daphne_wsgi_extra_args": ["-b0.0.0.0:9000"]},
        "daphne_wsgi_extra_args"),
    "unknown-process-manager": ({"daphne_process_manager": "runit"},
                                "daphne_process_manager must be one of: supervisor, systemd"),
    "websocket-timeout-not-below-group-expiry": (
        {"daphne_timeouts": {"websocket": 86400}}, "daphne_timeouts.websocket (86400) must be below"),
    "websocket-timeout-infinite-with-group-expiry": (
        {"daphne_timeouts": {"websocket": -1}, "daphne_channel_layer_group_expiry": 600},
        "daphne_timeouts.websocket (-1) must be below"),
    "unknown-timeout-name": ({"daphne_timeouts": {"websockets": 10}}, "websockets"),
    # a variable of 0.1 names its replacement
    "removed-timeout-variable": (
        {"daphne_websocket_timeout": 3600}, "daphne_websocket_timeout was removed in asgi.channels 0.2.0: set "
        "daphne_timeouts.websocket instead"),
    # one process cannot restart without closing the shared socket
    "one-process-with-rolling-restart": ({"daphne_numprocs": 1}, "daphne_numprocs is 1 with daphne_rolling_restart true"),
    "health-status-not-a-status": ({"daphne_health_status": [200, 42]}, "daphne_health_status must list HTTP statuses"),
    "daphne-version-unsupported": ({"daphne_version": "3.0.2"}, "daphne_version must be >= 4.0.0 and < 4.3"),
    # daphne_server: what the chosen server has no equivalent of is refused, naming it (the
    # scenario's own daphne_timeouts hold Daphne's websocket timeout)
    "unknown-server": ({"daphne_server": "gunicorn"}, "daphne_server must be one of: daphne, uvicorn"),
    "uvicorn-with-a-daphne-timeout": (
        {"daphne_server": "uvicorn", "daphne_timeouts": {"websocket": 3600}},
        "daphne_timeouts takes only ping_interval, ping_timeout: Uvicorn has no equivalent of websocket"),
    "trusted-proxies-with-daphne": (
        {"daphne_trusted_proxies": ["127.0.0.1"]}, "daphne_trusted_proxies must be empty with daphne_server daphne"),
    "uvicorn-option-in-the-environment": (
        {"daphne_server": "uvicorn", "daphne_timeouts": {},
         "daphne_environment": {"DJANGO_SETTINGS_MODULE": "chatsite.settings", "WEB_CONCURRENCY": "4"}},
        "daphne_environment must not set WEB_CONCURRENCY with daphne_server uvicorn"),
    "uvicorn-reload-option": (
        {"daphne_server": "uvicorn", "daphne_timeouts": {}, "daphne_extra_args": ["--reload"]},
        "daphne_extra_args must not hold --host, --port, --uds, --fd, --workers or --reload"),
    "uvicorn-version-unsupported": (
        {"daphne_server": "uvicorn", "daphne_timeouts": {}, "daphne_uvicorn_version": "0.29.0"},
        "daphne_uvicorn_version must be >= 0.30.0 and < 0.56"),
    "worker-name-with-a-space": (
        {"daphne_workers": [{"name": "my worker", "command": ["python", "manage.py", "runworker", "x"]}]},
        "daphne_workers: each item needs a name"),
    "worker-names-twice": (
        {"daphne_workers": [{"name": "w", "command": ["true"]}, {"name": "w", "command": ["false"]}]},
        "unique among the items"),
    "worker-without-command": ({"daphne_workers": [{"name": "w", "command": []}]}, "a command: a non-empty list"),
    "worker-command-as-a-string": (
        {"daphne_workers": [{"name": "w", "command": "celery -A mysite worker"}]}, "(not a string)"),
    "git-key-for-a-local-source": (
        {"daphne_git_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----"},
        "daphne_git_key is for a git source over SSH"),
    "git-key-not-a-key": (
        {"daphne_source_type": "git", "daphne_git_repo": "git@git.example.com:me/site.git", "daphne_git_key": "hunter2"},
        "must be a private key's text"),
    # the role exports daphne_static_root as STATIC_ROOT: daphne_environment may only repeat it
    "static-root-in-environment-differs": (
        {"daphne_environment": {"DJANGO_SETTINGS_MODULE": "chatsite.settings", "STATIC_ROOT": "/srv/elsewhere"}},
        "it sets STATIC_ROOT to '/srv/elsewhere' but daphne_static_root is '/var/www/asgi2/static', which the "
        "role exports as STATIC_ROOT (daphne_static_root_env_var)"),
    "media-root-relative": (
        {"daphne_media_root": "media"},
        "daphne_media_root must be '' (no media directory) or an absolute path other than daphne_static_root "
        "(/var/www/asgi2/static), neither inside the other; got 'media'"),
    "media-root-inside-the-static-root": (
        {"daphne_media_root": "/var/www/asgi2/static/media"},
        "an absolute path other than daphne_static_root (/var/www/asgi2/static), neither inside the other; "
        "got '/var/www/asgi2/static/media'"),
    "media-root-env-var-not-a-name": (
        {"daphne_media_root_env_var": "MEDIA-ROOT"},
        "daphne_static_root_env_var and daphne_media_root_env_var must each be an environment variable name"),
    # a path, not a release directory's name
    "rollback-not-a-release-name": (
        {"daphne_rollback": "../current"},
        "daphne_rollback must be empty (deploy the configured source), previous (the release live"),
}


def _run(name, extra_vars):
    return run_playbook("converge.yml", extra_vars=extra_vars, limit=name)


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    """Every bad run, three at a time (they change nothing, so they may overlap), between two looks
    at the host's environment file and current release, with a fact cache of their own (Molecule's
    ansible.cfg gathers smart, with no cache: each run would gather again)."""
    name, host = sorted(all_hosts().items())[0]
    before = (host.file(ENV_FILE).mtime, current_release(host))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ANSIBLE_GATHERING", "smart")
        env.setenv("ANSIBLE_CACHE_PLUGIN", "jsonfile")
        env.setenv("ANSIBLE_CACHE_PLUGIN_CONNECTION", str(tmp_path_factory.mktemp("bad-input-facts")))
        with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
            futures = {case: pool.submit(_run, name, extra_vars) for case, (extra_vars, _message) in CASES.items()}
            runs = {case: future.result() for case, future in futures.items()}
    return {"before": before, "after": (host.file(ENV_FILE).mtime, current_release(host)), "runs": runs}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_naming_the_variable(bad_runs, case):
    extra_vars, message = CASES[case]
    proc = bad_runs["runs"][case]
    output = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0, "the play accepted %s" % extra_vars
    assert " ".join(message.split()) in output, output[-2500:]


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_before_any_change(bad_runs, case):
    output = ANSI.sub("", bad_runs["runs"][case].stdout)
    recap = re.findall(r"\bchanged=(\d+)\b.*?\bfailed=(\d+)\b", output)
    assert recap == [("0", "1")], "the play changed something or did not fail once:\n%s" % output[-2500:]


def test_the_environment_file_and_release_are_unchanged_by_the_bad_runs(bad_runs):
    assert bad_runs["after"] == bad_runs["before"]
