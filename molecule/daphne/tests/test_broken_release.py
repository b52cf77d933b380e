"""A release whose ASGI application does not import: the play fails with the import error and the
previous release keeps serving (same link, same processes). The deploy and the checks:
failed_release_checks.py."""

from failed_release_checks import FailedReleaseChecks, failed_deploy_fixture

BROKEN_MODULE = "chat.no_such_module_in_this_release"


def break_the_import(app):
    asgi = app / "chatsite" / "asgi.py"
    asgi.write_text(asgi.read_text(encoding="utf-8") + "\nimport %s  # noqa\n" % BROKEN_MODULE, encoding="utf-8")


failed_deploy = failed_deploy_fixture("broken", break_the_import)


class TestBrokenRelease(FailedReleaseChecks):
    MESSAGES = (
        "importing chatsite.asgi:application failed",
        "ModuleNotFoundError: No module named '%s'" % BROKEN_MODULE,
    )
