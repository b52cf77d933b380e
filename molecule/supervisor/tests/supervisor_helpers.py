"""Helpers shared by the supervisor scenario's tests (not a test module)."""

import yaml


def entry_point_playbook(path, program):
    """Write, at ``path`` (a pathlib.Path), a playbook that applies ``program`` through the role's
    entry point `program`, the way other roles do; return the path as a string."""
    path.write_text(yaml.safe_dump([{
        "name": "Apply one program through the entry point program",
        "hosts": "all",
        "gather_facts": False,
        "tasks": [{
            "name": "Apply the program",
            "ansible.builtin.include_role": {"name": "asgi.channels.supervisor", "tasks_from": "program"},
            "vars": {"supervisor_program": program},
        }],
    }]))
    return str(path)
