"""daphne_source_type package: the sample app as a wheel built on the controller, deployed on one
host over the converged local-source release, then the local source deployed again.

The wheel is put together here with zipfile (a wheel is a zip with a .dist-info directory), so no
build backend is needed on the controller; its dependencies are the app's requirements.txt.
"""

import base64
import csv
import hashlib
import io
import json
import pathlib
import zipfile

import pytest

from conftest import run_playbook
from daphne_helpers import APP_ROOT, APP_SOURCE, APP_USER, all_hosts, current_release, health, wait_all_running

DIST = "asgi_channels_sample_chat"
VERSION = "1.0"
PACKAGES = ("chat", "chatsite")


def _record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(directory):
    """The sample app's packages as a wheel in ``directory``; its path."""
    requirements = [line.strip() for line in (APP_SOURCE / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    dist_info = "%s-%s.dist-info" % (DIST, VERSION)
    files = {}
    for package in PACKAGES:
        for path in sorted((APP_SOURCE / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[path.relative_to(APP_SOURCE).as_posix()] = path.read_bytes()
    files[dist_info + "/METADATA"] = ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (
        DIST, VERSION, "".join("Requires-Dist: %s\n" % r for r in requirements))).encode()
    files[dist_info + "/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: asgi.channels tests\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in files.items():
        writer.writerow([name, _record_hash(data), len(data)])
    writer.writerow([dist_info + "/RECORD", "", ""])
    files[dist_info + "/RECORD"] = record.getvalue().encode()
    wheel = pathlib.Path(directory) / ("%s-%s-py3-none-any.whl" % (DIST, VERSION))
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return wheel


def test_built_wheel_lists_every_file_in_its_record(tmp_path):
    """The test's own wheel is well formed: RECORD names every file with its hash."""
    with zipfile.ZipFile(build_wheel(tmp_path)) as archive:
        names = set(archive.namelist())
        record = {row[0]: row[1] for row in csv.reader(io.StringIO(archive.read(
            "%s-%s.dist-info/RECORD" % (DIST, VERSION)).decode()))}
        assert set(record) == names
        assert all(record[n] == _record_hash(archive.read(n)) for n in names if not n.endswith("RECORD"))
    assert "chatsite/asgi.py" in names and "chat/templates/chat/index.html" in names


@pytest.fixture(scope="module")
def package_deploy(tmp_path_factory):
    name, host = sorted(all_hosts().items())[0]
    local_release = current_release(host)
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    proc = run_playbook("converge.yml", limit=name, extra_vars={
        "daphne_source_type": "package", "daphne_package": str(wheel)})
    seen = {"proc": proc, "host": host, "local_release": local_release}
    try:
        if proc.returncode == 0:
            release = current_release(host)
            seen.update({
                "release": release,
                "procs": wait_all_running(host),
                "health": health(host),
                "installed": host.run("%s/venv/bin/python -m pip show %s", release, DIST).stdout,
                "manage": host.run("runuser -u %s -- %s/bin/manage check", APP_USER, APP_ROOT),
                "listing": host.run("ls %s", release).stdout.split(),
                "page": host.run("wsclient http http://localhost:8000/").stdout,
            })
    finally:
        # the local source again, whatever happened: the later tests need the converged host
        seen["restored"] = run_playbook("converge.yml", limit=name)
        seen["restored_release"] = current_release(host)
        wait_all_running(host)
    return seen


def test_package_release_deploys(package_deploy):
    proc = package_deploy["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr


def test_package_release_is_a_new_release(package_deploy):
    assert package_deploy["release"] != package_deploy["local_release"]


def test_package_is_installed_in_the_release_venv(package_deploy):
    assert "Name: %s" % DIST in package_deploy["installed"]
    assert "Version: %s" % VERSION in package_deploy["installed"]


def test_package_release_holds_no_source_tree(package_deploy):
    assert "manage.py" not in package_deploy["listing"]
    assert "%s-%s-py3-none-any.whl" % (DIST, VERSION) in package_deploy["listing"]


def test_package_release_serves_from_every_process(package_deploy):
    assert package_deploy["health"]["release"] == pathlib.PurePosixPath(package_deploy["release"]).name
    assert all(state == "RUNNING" for state, _pid in package_deploy["procs"].values())


def test_package_release_renders_the_app_page(package_deploy):
    """Templates and the app come from the installed package (site-packages), not a source tree."""
    page = json.loads(package_deploy["page"])
    assert page["ok"] and "asgi.channels chat" in page["bodies"][0], page


def test_manage_wrapper_runs_django_admin_for_a_package(package_deploy):
    manage = package_deploy["manage"]
    assert manage.rc == 0 and "no issues" in manage.stdout, manage.stdout + manage.stderr


def test_local_source_deploys_again_after_the_package(package_deploy):
    assert package_deploy["restored"].returncode == 0, package_deploy["restored"].stdout[-3000:]
    assert package_deploy["restored_release"] == package_deploy["local_release"]
