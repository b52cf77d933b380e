"""The sample app as a wheel, for the daphne scenario's package-source deploy (not a test module).

The wheel is put together with zipfile (a wheel is a zip with a .dist-info directory), so no build
backend is needed on the controller; its dependencies are the app's requirements.txt.
"""

import base64
import csv
import hashlib
import io
import pathlib
import zipfile

from daphne_helpers import APP_SOURCE

DIST = "asgi_channels_sample_chat"
VERSION = "1.0"
PACKAGES = ("chat", "chatsite")


def record_hash(data):
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
        writer.writerow([name, record_hash(data), len(data)])
    writer.writerow([dist_info + "/RECORD", "", ""])
    files[dist_info + "/RECORD"] = record.getvalue().encode()
    wheel = pathlib.Path(directory) / ("%s-%s-py3-none-any.whl" % (DIST, VERSION))
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return wheel
