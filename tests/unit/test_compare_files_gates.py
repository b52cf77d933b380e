"""The roles' template tasks gated by asgi.channels.compare_files agree with their comparison.

A role compares its rendered files with the host in one task, then each template task runs only
when its file is in the comparison's `differ` list. If the comparison's entry said another owner,
group or mode than the template task, a file drifted to the comparison's value would never be
repaired: so, for every gated template task (and every item of a gated loop), the entry with the
same src must have the same dest, owner, group and mode, the task's `when` must test that very
dest, and no entry may be left without its template task.
"""

import pathlib
import re
import sys

import pytest
import yaml

ROLES = pathlib.Path(__file__).resolve().parents[2] / "roles"
COMPARE = "asgi.channels.compare_files"
TEMPLATE = "ansible.builtin.template"
ATTRIBUTES = ("dest", "owner", "group", "mode")


def tasks_of(role):
    """Every task of the role's task files, blocks flattened."""
    def flatten(items):
        for task in items or []:
            yield task
            for key in ("block", "rescue", "always"):
                yield from flatten(task.get(key))
    for path in sorted((ROLES / role / "tasks").glob("*.yml")):
        yield from flatten(yaml.safe_load(path.read_text()))


def dest_expression(dest):
    """The Jinja expression a `when` uses for a dest: '{{ a }}' -> 'a', '{{ a }}/b' -> "(a ~ '/b')"."""
    match = re.fullmatch(r"\{\{ ([\w.]+) \}\}(/[^{}]+)?", dest)
    assert match, "dest %r is not '{{ var }}' or '{{ var }}/name'" % dest
    name, suffix = match.groups()
    return name if suffix is None else "(%s ~ '%s')" % (name, suffix)


def gated_templates(role, register):
    """(task name, the template's src/dest/owner/group/mode, the dest expression its when must
    test) for each template task, and each item of a template loop, gated by `register`."""
    found = []
    for task in tasks_of(role):
        if TEMPLATE not in task:
            continue
        when = task.get("when", [])
        when = [when] if isinstance(when, str) else when
        if not any("%s.differ" % register in condition for condition in when):
            continue
        args = task[TEMPLATE]
        items = task.get("loop") or [None]
        for item in items:
            resolved = {key: args.get(key) for key in ("src",) + ATTRIBUTES}
            if item is not None:
                resolved = {key: item.get(key) if value in ("{{ item.%s }}" % key,) else value
                            for key, value in resolved.items()}
                expression = "item.dest"
            else:
                expression = dest_expression(resolved["dest"])
            assert any("%s in %s.differ" % (expression, register) in condition for condition in when), (
                "%s: its when %r does not test its own dest (%s)" % (task["name"], when, expression))
            found.append((task["name"], resolved))
    return found


def comparisons():
    for role in sorted(path.name for path in ROLES.iterdir() if (path / "tasks").is_dir()):
        for task in tasks_of(role):
            if COMPARE in task:
                yield pytest.param(role, task, id="%s: %s" % (role, task["name"]))


@pytest.mark.parametrize("role, compare", list(comparisons()))
def test_each_gated_template_matches_its_entry(role, compare):
    entries = {entry["src"]: entry for entry in compare[COMPARE]["files"]}
    gated = gated_templates(role, compare["register"])
    assert gated, "nothing is gated by %s" % compare["register"]
    for name, template in gated:
        entry = entries.get(template["src"])
        assert entry is not None, "%s: %s is not compared" % (name, template["src"])
        for key in ATTRIBUTES:
            assert template[key] == entry.get(key), "%s: %s %r, compared with %r" % (
                name, key, template[key], entry.get(key))


@pytest.mark.parametrize("role, compare", list(comparisons()))
def test_every_compared_file_has_its_gated_template(role, compare):
    gated_sources = {template["src"] for _name, template in gated_templates(role, compare["register"])}
    compared = [entry["src"] for entry in compare[COMPARE]["files"]]
    assert sorted(compared) == sorted(gated_sources)


def test_the_roles_use_the_comparison():
    """The four roles each have one (the test above would pass with none)."""
    assert sorted({param.values[0] for param in comparisons()}) == ["daphne", "nginx", "redis", "supervisor"]


def test_a_drifted_entry_is_caught(tmp_path, monkeypatch):
    """The check itself: a role whose comparison says 0644 and whose template says 0640 fails."""
    role = tmp_path / "demo" / "tasks"
    role.mkdir(parents=True)
    (role / "main.yml").write_text(yaml.safe_dump([
        {"name": "Compare", COMPARE: {"files": [
            {"src": "a.j2", "dest": "{{ a_file }}", "owner": "root", "group": "root", "mode": "0644"}]},
         "register": "compared"},
        {"name": "Write a", TEMPLATE: {"src": "a.j2", "dest": "{{ a_file }}", "owner": "root", "group": "root",
                                       "mode": "0640"},
         "when": "a_file in compared.differ"},
    ]))
    monkeypatch.setattr(sys.modules[__name__], "ROLES", tmp_path)
    (role_name, compare), = [param.values for param in comparisons()]
    with pytest.raises(AssertionError, match="mode '0640', compared with '0644'"):
        test_each_gated_template_matches_its_entry(role_name, compare)
