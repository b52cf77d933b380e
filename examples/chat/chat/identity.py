"""Who answers: the host, the Daphne process (pid, supervisor's process name), the release."""

import os
import socket


def identity():
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "process": os.environ.get("SUPERVISOR_PROCESS_NAME") or None,
        "release": os.environ.get("ASGI_RELEASE") or None,
    }
