#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: asgi.channels contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: compare_files
short_description: Tell which of several files differ from their wanted content and attributes
version_added: 0.1.0
description:
  - Compares a list of regular files on the managed host with the SHA-1 checksum of the content
    they should have and, when given, their owner, group and mode, in one module execution, and
    returns the paths that differ.
  - Made to run before a role's M(ansible.builtin.template) tasks, with the same C(src), C(dest),
    C(owner), C(group) and C(mode), so that each template task runs only when its file differs
    (C(when) on RV(differ)). An unchanged template otherwise costs two executions on the host (a
    C(stat) with the checksum, then M(ansible.builtin.file) for the attributes).
  - Templates are rendered on the controller by the action plugin; only their checksums reach
    the host.
  - Read-only, it never changes the host and never reports a change.
author:
  - asgi.channels developers (@asgi-channels)
options:
  files:
    description:
      - The files to compare.
    type: list
    elements: dict
    required: true
    suboptions:
      dest:
        description:
          - Absolute path of the file on the host. Used literally; C(~) and environment variables
            are not expanded.
          - Anything but a regular file at the path (nothing, a directory, a symbolic link, even
            to a regular file) differs.
        type: str
        required: true
      src:
        description:
          - A template, found and rendered on the controller as M(ansible.builtin.template) does
            (a role's C(templates/) directory first, with the task's variables), whose output is
            the wanted content. The action plugin replaces it with its O(files[].checksum)
            before the host is asked.
          - Exactly one of O(files[].src) and O(files[].checksum) is required.
        type: str
      checksum:
        description:
          - SHA-1 of the wanted content, 40 hexadecimal digits (C(sha1sum) and
            P(ansible.builtin.hash#filter) print it so).
        type: str
      owner:
        description:
          - Name or numeric id of the user that should own the file. A name the host does not
            know differs. Not compared when omitted.
        type: str
      group:
        description:
          - Name or numeric id of the group, compared like O(files[].owner).
        type: str
      mode:
        description:
          - Wanted permissions as an octal string such as V('0640') (the permission bits and the
            set-id and sticky bits). Symbolic modes are refused. Not compared when omitted.
        type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
    details:
      - The action plugin renders O(files[].src) on the controller.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details:
      - The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
notes:
  - The files are read whole to compute their checksums; made for configuration files, not for
    large data.
seealso:
  - module: ansible.builtin.stat
    description: One path per execution, with its checksum and attributes.
  - module: ansible.builtin.template
    description: Writes a file when its content or attributes differ.
"""

EXAMPLES = r"""
- name: Compare the configuration files with what the templates below would write
  asgi.channels.compare_files:
    files:
      - src: supervisord.conf.j2
        dest: /etc/supervisor/supervisord.conf
        owner: root
        group: root
        mode: "0644"
  register: compared
  check_mode: false

- name: Write supervisord.conf (only when it differs)
  ansible.builtin.template:
    src: supervisord.conf.j2
    dest: /etc/supervisor/supervisord.conf
    owner: root
    group: root
    mode: "0644"
  when: "'/etc/supervisor/supervisord.conf' in compared.differ"

- name: Compare a file with a known checksum, content only
  asgi.channels.compare_files:
    files:
      - dest: /etc/motd
        checksum: 2aae6c35c94fcfb415dbe95f408b9ce91ee846ed
  register: motd
  check_mode: false
"""

RETURN = r"""
differ:
  description: The O(files[].dest) paths that differ in content, owner, group or mode, or that are no regular file, in the order given.
  returned: success
  type: list
  elements: str
  sample: [/etc/supervisor/supervisord.conf]
files:
  description: What was found for each O(files[].dest), in the order given.
  returned: success
  type: list
  elements: dict
  contains:
    dest:
      description: The path, as given.
      type: str
      sample: /etc/supervisor/supervisord.conf
    differs:
      description: Whether the path is in RV(differ).
      type: bool
      sample: true
    reasons:
      description:
        - What differs. One or more of V(missing), V(not a regular file), V(content), V(owner),
          V(group), V(mode); empty when nothing does.
      type: list
      elements: str
      sample: [content, mode]
"""

import grp
import hashlib
import os
import pwd
import re
import stat

from ansible.module_utils.basic import AnsibleModule

CHECKSUM_PATTERN = re.compile(r"\A[0-9a-fA-F]{40}\Z")
MODE_PATTERN = re.compile(r"\A[0-7]{1,4}\Z")


def entry_errors(entry):
    """Problems with one entry's values (the argument spec checked the types)."""
    errors = []
    path = entry["dest"]
    if not os.path.isabs(path):
        errors.append("dest must be absolute: %r" % path)
    if entry.get("src") is not None:
        errors.append("src of %s is rendered by the action plugin: run the module as a task, or give checksum" % path)
    elif not CHECKSUM_PATTERN.match(entry["checksum"]):
        errors.append("checksum of %s must be 40 hexadecimal digits (SHA-1): %r" % (path, entry["checksum"]))
    if entry.get("mode") is not None and not MODE_PATTERN.match(entry["mode"]):
        errors.append("mode of %s must be an octal string such as '0640': %r" % (path, entry["mode"]))
    return errors


def resolve_id(name, lookup):
    """A numeric id for a user or group name or number; None when the host does not know the name."""
    if name.isdigit():
        return int(name)
    try:
        return lookup(name)
    except KeyError:
        return None


def file_sha1(path):
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def compare(entry, uid_of=lambda name: pwd.getpwnam(name).pw_uid, gid_of=lambda name: grp.getgrnam(name).gr_gid):
    """The reasons why the file at entry["dest"] differs from the entry ([] when it does not)."""
    try:
        info = os.lstat(entry["dest"])
    except FileNotFoundError:
        return ["missing"]
    if not stat.S_ISREG(info.st_mode):
        return ["not a regular file"]
    reasons = []
    if file_sha1(entry["dest"]) != entry["checksum"].lower():
        reasons.append("content")
    if entry.get("owner") is not None and resolve_id(entry["owner"], uid_of) != info.st_uid:
        reasons.append("owner")
    if entry.get("group") is not None and resolve_id(entry["group"], gid_of) != info.st_gid:
        reasons.append("group")
    if entry.get("mode") is not None and int(entry["mode"], 8) != stat.S_IMODE(info.st_mode):
        reasons.append("mode")
    return reasons


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(
                type="list",
                elements="dict",
                required=True,
                mutually_exclusive=[["src", "checksum"]],
                required_one_of=[["src", "checksum"]],
                options=dict(
                    dest=dict(type="str", required=True),
                    src=dict(type="str"),
                    checksum=dict(type="str"),
                    owner=dict(type="str"),
                    group=dict(type="str"),
                    mode=dict(type="str"),
                ),
            ),
        ),
        supports_check_mode=True,
    )
    errors = [error for entry in module.params["files"] for error in entry_errors(entry)]
    if errors:
        module.fail_json(msg="; ".join(errors))
    files = []
    for entry in module.params["files"]:
        try:
            reasons = compare(entry)
        except OSError as exc:
            module.fail_json(msg="cannot read %s: %s" % (entry["dest"], exc))
        files.append({"dest": entry["dest"], "differs": bool(reasons), "reasons": reasons})
    module.exit_json(changed=False, differ=[item["dest"] for item in files if item["differs"]], files=files)


def main():
    run_module()


if __name__ == "__main__":
    main()
