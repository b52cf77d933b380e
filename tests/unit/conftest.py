"""Make ``ansible_collections.asgi.channels`` importable in the unit tests.

In the repository the collection resolves through the committed link
collections/ansible_collections/asgi/channels (it points back at the repository root). When the
tests run from a copy that already sits at .../ansible_collections/asgi/channels (ansible-test's
layout), the directory above ``ansible_collections`` is used instead.
"""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

if ROOT.parents[1].name == "ansible_collections":
    COLLECTIONS_PATH = ROOT.parents[2]
else:
    COLLECTIONS_PATH = ROOT / "collections"

if str(COLLECTIONS_PATH) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_PATH))
