# -*- coding: utf-8 -*-
# Copyright: asgi.channels contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of asgi.channels.compare_files: render each entry's template as
ansible.builtin.template would (through the template lookup, with the task's variables), replace
it with the SHA-1 of the result, and ask the host once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase

MODULE = "asgi.channels.compare_files"


def sha1_text(text):
    """SHA-1 of a rendered template as the template action writes it (UTF-8)."""
    return hashlib.sha1(to_bytes(text, encoding="utf-8", errors="surrogate_or_strict")).hexdigest()


def with_checksums(entries, render):
    """The entries for the module: each `src` replaced by the checksum of render(src). Other keys
    are passed on as given (the module checks them)."""
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise AnsibleActionFail("files must be a list of dictionaries")
    result = []
    for entry in entries:
        entry = dict(entry)
        src = entry.pop("src", None)
        if src is not None:
            if entry.get("checksum") is not None:
                raise AnsibleActionFail("src and checksum are mutually exclusive (dest %s)" % entry.get("dest"))
            entry["checksum"] = sha1_text(render(src))
        result.append(entry)
    return result


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("files",))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp

        lookup = self._shared_loader_obj.lookup_loader.get(
            "ansible.builtin.template", loader=self._loader, templar=self._templar)

        def render(src):
            return lookup.run([src], variables=task_vars)[0]

        files = with_checksums(self._task.args.get("files"), render)
        result.update(self._execute_module(module_name=MODULE, module_args={"files": files}, task_vars=task_vars))
        return result
