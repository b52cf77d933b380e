"""Who answers: the Daphne process (pid, supervisor's process name) and the deployed release."""

import os


def identity():
    return {
        "pid": os.getpid(),
        "process": os.environ.get("SUPERVISOR_PROCESS_NAME") or None,
        "release": os.environ.get("ASGI_RELEASE") or None,
    }
