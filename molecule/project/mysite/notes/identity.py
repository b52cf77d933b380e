"""Which process, host and release answered: the release is the directory the code runs from."""

import os
import socket
from pathlib import Path


def identity():
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "release": Path(__file__).resolve().parent.parent.name,
    }
