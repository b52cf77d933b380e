#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: asgi.channels contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: warn
short_description: Show messages as warnings of the play
version_added: 0.1.0
description:
  - Returns each message of O(msg) as a warning, which Ansible prints as C([WARNING]) and counts
    in the play's recap of warnings; the task itself neither fails nor changes anything.
  - For findings that should not stop a play but must not go unnoticed either, for example the
    channel layer settings the C(asgi.channels.daphne) role's release check finds.
  - Changes nothing on the managed host.
author:
  - asgi.channels developers (@asgi-channels)
options:
  msg:
    description:
      - The messages, one warning each. Empty messages are left out.
    type: list
    elements: str
    required: true
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying the target.
    support: full
    details:
      - It changes nothing anyway, so it runs the same in check mode and returns C(changed=false).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Check something that should only warn
  ansible.builtin.command:
    argv: [/usr/local/bin/my-check]
  register: my_check
  changed_when: false
  check_mode: false

- name: Show its findings as warnings
  asgi.channels.warn:
    msg: "{{ my_check.stdout_lines }}"
  when: my_check.stdout_lines | length > 0
"""

RETURN = r"""
messages:
  description: The messages shown as warnings.
  returned: always
  type: list
  elements: str
  sample: ["CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]: max_connections is 100 (redis-py 8.1.0's default)"]
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={"msg": {"type": "list", "elements": "str", "required": True}},
        supports_check_mode=True,
    )
    messages = [message for message in module.params["msg"] if message.strip()]
    for message in messages:
        module.warn(message)
    module.exit_json(changed=False, messages=messages)


if __name__ == "__main__":
    main()
