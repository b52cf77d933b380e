#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: asgi.channels contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: paths
short_description: Apply several directories, links and removals in one task
version_added: 0.1.0
description:
  - Applies a list of directories, symbolic links and removals on the managed host in one module
    execution, where a loop over M(ansible.builtin.file) costs one execution (a Python start on
    the host) per item.
  - Each entry behaves as M(ansible.builtin.file) with the same O(paths[].state), with the
    differences listed in the options (links are replaced as with C(force=true), their
    attributes are those of the link itself).
  - Entries are applied in the order given. All entries are validated before any of them is
    applied; an error while applying one stops there, and the failure returns RV(paths) for the
    entries applied before it.
author:
  - asgi.channels developers (@asgi-channels)
options:
  paths:
    description:
      - The paths to apply, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Absolute path of the directory, link or file, without C(.) or C(..) components. A
            trailing C(/) is ignored.
          - Used literally; C(~) and environment variables are not expanded.
          - The module refuses to remove C(/).
        type: str
        required: true
      state:
        description:
          - V(directory) creates the directory, and the missing directories above it, when it
            does not exist, then applies O(paths[].owner), O(paths[].group) and O(paths[].mode).
            As with M(ansible.builtin.file), every directory this creates, the missing parents
            included, gets those attributes. Something other than a directory at the path is an
            error. A symbolic link at the path is followed, as M(ansible.builtin.file) does by
            default; the directory it points to is then the one created or changed.
          - V(link) makes the path a symbolic link to O(paths[].src). An existing link to another
            target, a file, or another kind of non-directory at the path is replaced atomically
            (a new link is created next to it and renamed over it), as with C(force=true). A
            directory at the path is never replaced; that is an error.
          - V(absent) removes a file or a link (not what it points to), or a directory with
            everything in it. Nothing at the path is no change.
        type: str
        choices: [directory, link, absent]
        default: directory
      src:
        description:
          - Target of the link; required with O(paths[].state=link) and used with no other
            state.
          - Stored as given. A relative target is relative to the link's directory, as with
            C(ln -s). It does not need to exist.
        type: str
      owner:
        description:
          - Name or numeric id of the user that should own the directory, or the link itself
            (never its target). Not used with O(paths[].state=absent).
        type: str
      group:
        description:
          - Name or numeric id of the group, set like O(paths[].owner).
        type: str
      mode:
        description:
          - Permissions of the directory, as M(ansible.builtin.file) takes them, an octal string
            such as V('0750') or a symbolic mode such as V(u=rwx,g=rx,o=).
          - Quote an octal mode in YAML. As with M(ansible.builtin.file), an integer is taken as
            the numeric value of the mode, so an unquoted V(750) is not V('0750').
          - Used with O(paths[].state=directory) only; a link has no permissions of its own on
            Linux, so the module refuses a mode for O(paths[].state=link).
        type: raw
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying the target.
    support: full
    details:
      - An entry that depends on an earlier one (a link inside a directory that would be
        created) is predicted from the host as it is, which may differ from what the earlier
        entry would have made.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
    details:
      - One diff per changed entry, with the path's C(state) before and after, the link target
        (C(src)) and the owner, group and mode that change.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - Differences from M(ansible.builtin.file) with the same state, by design - a link is created
    whether or not its target exists and replaces a file or link at the path (C(force=true)); an
    empty directory is not replaced by a link either; the owner and group of a link are set on
    the link itself (C(follow=false)); a mode for a link, and C(src), C(owner), C(group) or C(mode)
    for a removal, are refused instead of ignored; removing a directory does not list its
    contents in the diff.
seealso:
  - module: ansible.builtin.file
    description: The module whose semantics each entry follows, one path per execution.
"""

EXAMPLES = r"""
- name: Create the application's directories and point current at the release, in one execution
  asgi.channels.paths:
    paths:
      - path: /srv/chat/releases
        owner: root
        group: chat
        mode: "0750"
      - path: /srv/chat/shared
        owner: chat
        group: chat
        mode: u=rwx,g=rx,o=
      - path: /srv/chat/current
        state: link
        src: /srv/chat/releases/3f2a9c
        owner: root
        group: chat

- name: Enable a site with a relative link and remove the distribution's default
  asgi.channels.paths:
    paths:
      - path: /etc/nginx/sites-enabled/chat.conf
        state: link
        src: ../sites-available/chat.conf
      - path: /etc/nginx/sites-enabled/default
        state: absent
  register: nginx_links

- name: Remove old releases (a directory is removed with everything in it)
  asgi.channels.paths:
    paths: "{{ old_releases | map('community.general.dict_kv', 'path')
               | map('combine', {'state': 'absent'}) | list }}"
  vars:
    old_releases:
      - /srv/chat/releases/1a2b3c
      - /srv/chat/releases/4d5e6f

- name: Show which entries changed
  ansible.builtin.debug:
    msg: "{{ nginx_links.paths | selectattr('changed') | map(attribute='path') | list }}"
"""

RETURN = r"""
paths:
  description:
    - One item per entry of O(paths), in order, for the entries applied (on failure, those
      before the entry that failed).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The entry's O(paths[].path), as given.
      type: str
      returned: always
      sample: /srv/chat/current
    state:
      description: The entry's O(paths[].state).
      type: str
      returned: always
      sample: link
    changed:
      description: Whether this entry changed something (or would have, in check mode).
      type: bool
      returned: always
      sample: true
  sample:
    - path: /srv/chat/releases
      state: directory
      changed: false
    - path: /srv/chat/current
      state: link
      changed: true
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

# Attempts at a free name for the temporary link before giving up (names are random).
TEMPORARY_LINK_ATTEMPTS = 10


class PathsModule(AnsibleModule):
    """AnsibleModule that reports the entries applied so far with every failure.

    A failure, including one raised inside AnsibleModule's attribute helpers (an unknown user, a
    refused chown), names the path of the entry being applied in its message.
    """

    def __init__(self, *args, **kwargs):
        # Set first: AnsibleModule's own argument checks may already fail.
        self.applied = []
        self.current_path = None
        super().__init__(*args, **kwargs)

    def fail_json(self, msg, **kwargs):
        msg = to_native(msg)
        if self.current_path is not None and self.current_path not in msg:
            msg = "%s: %s" % (self.current_path, msg)
        kwargs.setdefault("changed", any(item["changed"] for item in self.applied))
        kwargs.setdefault("paths", self.applied)
        super().fail_json(msg=msg, **kwargs)


def get_state(path):
    """What is at ``path``, without following a link: absent, link, directory or file."""
    if not os.path.lexists(path):
        return "absent"
    if os.path.islink(path):
        return "link"
    if os.path.isdir(path):
        return "directory"
    return "file"


def new_diff(path, before, after):
    return {"before": {"path": path, "state": before}, "after": {"path": path, "state": after}}


def file_args(module, entry, path):
    """The attribute arguments of ``entry`` for AnsibleModule's helpers, applied to ``path`` itself."""
    args = module.load_file_common_arguments(entry, path=path)
    # The helper expands ~ and $VARS; the module uses its paths literally.
    args["path"] = path
    return args


def missing_directories(path):
    """The directories that do not exist from the top down to ``path``, outermost first."""
    missing = []
    while not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    return reversed(missing)


def make_directory(path):
    try:
        os.mkdir(path)
    except FileExistsError:
        # Created meanwhile by someone else: fine, as long as it is a directory.
        if not os.path.isdir(path):
            raise


def ensure_directory(module, entry, path):
    # A link at the path is followed, as ansible.builtin.file does by default.
    target = os.path.realpath(path) if os.path.islink(path) else path
    before = get_state(target)
    diff = new_diff(path, before, "directory")
    if before == "absent":
        if not module.check_mode:
            for directory in missing_directories(target):
                make_directory(directory)
                module.set_fs_attributes_if_different(file_args(module, entry, directory), True, diff, expand=False)
        return True, diff
    if before != "directory":
        through = " (the link %s points to it)" % path if target != path else ""
        module.fail_json(msg="%s already exists as a %s%s" % (target, before, through))
    return module.set_fs_attributes_if_different(file_args(module, entry, target), False, diff, expand=False), diff


def temporary_link(path, src):
    """Create a link to ``src`` under a free name next to ``path``; return that name."""
    directory, name = os.path.split(path)
    for _attempt in range(TEMPORARY_LINK_ATTEMPTS):
        candidate = os.path.join(directory, ".%s.%s.tmp" % (name, os.urandom(6).hex()))
        try:
            os.symlink(src, candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError("no free temporary name next to %s" % path)


def replace_with_link(path, src):
    """Make ``path`` a link to ``src`` in one rename, whatever non-directory was there."""
    temporary = temporary_link(path, src)
    try:
        os.replace(temporary, path)
    except OSError:
        os.unlink(temporary)
        raise


def ensure_link(module, entry, path):
    src = entry["src"]
    before = get_state(path)
    diff = new_diff(path, before, "link")
    diff["after"]["src"] = src
    if before == "directory":
        module.fail_json(msg="refusing to replace the directory %s with a link to %s" % (path, src))
    changed = True
    if before == "link":
        current = os.readlink(path)
        diff["before"]["src"] = current
        changed = current != src
    if changed:
        if module.check_mode:
            return True, diff
        replace_with_link(path, src)
    return module.set_fs_attributes_if_different(file_args(module, entry, path), changed, diff, expand=False), diff


def ensure_absent(module, entry, path):
    before = get_state(path)
    diff = new_diff(path, before, "absent")
    if before == "absent":
        return False, diff
    if not module.check_mode:
        if before == "directory":
            shutil.rmtree(path)
        else:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    return True, diff


ENSURE = {
    "directory": ensure_directory,
    "link": ensure_link,
    "absent": ensure_absent,
}


def normalised(path):
    """``path`` without a trailing slash."""
    return path.rstrip("/") or "/"


def entry_error(entry):
    """Why ``entry`` cannot be applied, or None."""
    path, state = normalised(entry["path"]), entry["state"]
    if not os.path.isabs(path) or set(path.split("/")) & {".", ".."}:
        return "path must be absolute, without . or .. components, got %r" % entry["path"]
    if state == "absent" and path == "/":
        return "refusing to remove /"
    if state != "link" and entry["src"] is not None:
        return "%s: src is only used with state=link (state is %s)" % (path, state)
    if state == "link" and entry["mode"] is not None:
        return "%s: mode does not apply to a link (state=link); set owner and group only" % path
    if state == "absent":
        unused = [name for name in ("owner", "group", "mode") if entry[name] is not None]
        if unused:
            return "%s: %s not used with state=absent" % (path, ", ".join(unused))
    return None


def apply_entry(module, entry):
    """Apply one entry; return (changed, diff)."""
    path = normalised(entry["path"])
    module.current_path = path
    try:
        return ENSURE[entry["state"]](module, entry, path)
    except OSError as exc:
        module.fail_json(msg="cannot apply state=%s to %s: %s" % (entry["state"], path, to_native(exc)))
    finally:
        module.current_path = None


def main():
    module = PathsModule(
        argument_spec=dict(
            paths=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    path=dict(type="str", required=True),
                    state=dict(type="str", choices=["directory", "link", "absent"], default="directory"),
                    src=dict(type="str"),
                    owner=dict(type="str"),
                    group=dict(type="str"),
                    mode=dict(type="raw"),
                ),
                required_if=[("state", "link", ("src",))],
            ),
        ),
        supports_check_mode=True,
    )
    entries = module.params["paths"]
    for entry in entries:
        error = entry_error(entry)
        if error:
            module.fail_json(msg=error)

    diffs = []
    for entry in entries:
        changed, diff = apply_entry(module, entry)
        module.applied.append(dict(path=entry["path"], state=entry["state"], changed=changed))
        if changed:
            diffs.append(diff)

    result = dict(changed=bool(diffs), paths=module.applied)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
