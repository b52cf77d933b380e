"""The built collection installs and resolves by FQCN from a playbook outside this repository.

`ansible-galaxy collection build` -> `ansible-galaxy collection install` into a temporary
collections path -> from a temporary directory (no ansible.cfg of ours, no link to the repo):
every role and module resolves by its FQCN, the site playbook runs by its FQCN (syntax check),
and role argument specs and module docs render.
"""

import pathlib
import re
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
FQCN = "%s.%s" % (GALAXY["namespace"], GALAXY["name"])
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks" / "main.yml").exists())
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
PLAYBOOKS = sorted(p.stem for p in (REPO / "playbooks").glob("*.yml"))


def _run(cmd, cwd, env):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, "%s failed (%d):\n%s\n%s" % (" ".join(cmd), proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(workdir, env) with the freshly built collection installed in an empty collections path."""
    base = tmp_path_factory.mktemp("collection")
    env = {
        "PATH": str(pathlib.Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(base),
        "ANSIBLE_CONFIG": str(base / "no-such-ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(base / "collections"),
        "ANSIBLE_LOCAL_TEMP": str(base / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    _run(["ansible-galaxy", "collection", "build", "--force", "--output-path", str(base), str(REPO)], base, env)
    tarball = base / ("%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"]))
    assert tarball.exists()
    # --no-deps: the dependencies (ansible.posix, community.general) come with the ansible package.
    _run(["ansible-galaxy", "collection", "install", "--no-deps", "-p", str(base / "collections"), str(tarball)], base, env)
    listing = _run(["ansible-galaxy", "collection", "list", FQCN], base, env)
    assert FQCN in listing and GALAXY["version"] in listing
    return base, env


def test_tarball_leaves_out_development_files(installed):
    base = installed[0]
    root = base / "collections" / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    for name in (".venv", "molecule", "collections", ".ci", "scripts"):
        assert not (root / name).exists(), "%s shipped in the built collection" % name
    assert (root / "MANIFEST.json").exists()


@pytest.mark.parametrize("role", ROLES)
def test_role_resolves_by_fqcn(installed, role):
    base, env = installed
    playbook = base / ("use-%s.yml" % role)
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles:\n    - role: %s.%s\n" % (FQCN, role)
    )
    _run(["ansible-playbook", "--syntax-check", "-i", "localhost,", str(playbook)], base, env)


@pytest.mark.parametrize("role", ROLES)
def test_role_argument_spec_renders(installed, role):
    base, env = installed
    out = _run(["ansible-doc", "-t", "role", "%s.%s" % (FQCN, role)], base, env)
    assert re.search(r"ENTRY POINT: \*?main\*? - \S", out), out[:500]


@pytest.mark.parametrize("module", MODULES)
def test_module_resolves_and_documents(installed, module):
    base, env = installed
    out = _run(["ansible-doc", "%s.%s" % (FQCN, module)], base, env)
    assert "EXAMPLES" in out and "RETURN VALUES" in out


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_runs_by_fqcn(installed, playbook):
    base, env = installed
    _run(["ansible-playbook", "--syntax-check", "-i", "localhost,", "%s.%s" % (FQCN, playbook)], base, env)
