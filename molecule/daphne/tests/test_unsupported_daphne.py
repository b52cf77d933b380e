"""A project whose requirements pin a Daphne the role's entry point does not support (3.0.2): the
release's self-test fails before the release goes live, with a message naming the version found
and the supported range; the previous release keeps serving with its processes untouched. The
deploy and the checks: failed_release_checks.py."""

from failed_release_checks import FailedReleaseChecks, failed_deploy_fixture

UNSUPPORTED = "3.0.2"


def pin_an_unsupported_daphne(app):
    requirements = app / "requirements.txt"
    requirements.write_text(requirements.read_text(encoding="utf-8") + "daphne==%s\n" % UNSUPPORTED, encoding="utf-8")


failed_deploy = failed_deploy_fixture("unsupported", pin_an_unsupported_daphne)


class TestUnsupportedDaphne(FailedReleaseChecks):
    MESSAGES = (
        "self-test failed with Daphne %s (supported: >= 4.0.0, < 4.3)" % UNSUPPORTED,
        "Daphne %s is not a supported version" % UNSUPPORTED,
    )
