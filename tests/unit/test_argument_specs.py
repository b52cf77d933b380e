"""Every role's meta/argument_specs.yml agrees with its defaults/main.yml.

For each role and each public variable (defaults/main.yml of the ``main`` entry point):
- the spec lists it, and the spec lists nothing that has no default unless it is required;
- it is typed and described;
- a literal default equals the spec's ``default`` and has the spec's type (a templated default,
  computed on the host, is not compared: its spec must then carry no ``default``);
- a default within ``choices`` when choices are given; list elements typed;
- public names carry the role prefix; internal ``__<role>_`` names live in vars/, not defaults.
"""

import pathlib

import pytest
import yaml

ROLES_DIR = pathlib.Path(__file__).resolve().parents[2] / "roles"
ROLES = sorted(p.name for p in ROLES_DIR.iterdir() if (p / "tasks").is_dir()) if ROLES_DIR.is_dir() else []

TYPES = {
    "str": (str,),
    "path": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
    "raw": (object,),
}


def _load(path):
    with open(path, encoding="utf-8") as stream:
        return yaml.safe_load(stream) or {}


def _defaults(role):
    path = ROLES_DIR / role / "defaults" / "main.yml"
    return _load(path) if path.exists() else {}


def _spec(role, entry="main"):
    specs = _load(ROLES_DIR / role / "meta" / "argument_specs.yml")["argument_specs"]
    return specs[entry]["options"]


def _templated(value):
    return isinstance(value, str) and "{{" in value


def _walk(options, prefix=""):
    """Yield (dotted name, option spec) for options and their suboptions."""
    for name, option in options.items():
        yield prefix + name, option
        if option.get("options"):
            yield from _walk(option["options"], prefix + name + ".")


@pytest.mark.parametrize("role", ROLES)
def test_role_has_argument_specs_with_main_entry_point(role):
    specs = _load(ROLES_DIR / role / "meta" / "argument_specs.yml")["argument_specs"]
    assert "main" in specs
    assert specs["main"].get("short_description"), "%s: main entry point has no short_description" % role


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_in_the_spec(role):
    missing = sorted(set(_defaults(role)) - set(_spec(role)))
    assert not missing, "%s: defaults not in meta/argument_specs.yml: %s" % (role, missing)


@pytest.mark.parametrize("role", ROLES)
def test_every_spec_option_has_a_default_or_is_required(role):
    defaults = _defaults(role)
    orphans = sorted(
        name for name, option in _spec(role).items()
        if name not in defaults and not option.get("required") and "default" in option
    )
    assert not orphans, "%s: spec gives a default that defaults/main.yml lacks: %s" % (role, orphans)
    required_with_default = sorted(n for n, o in _spec(role).items() if o.get("required") and n in defaults)
    assert not required_with_default, "%s: required options must not have defaults: %s" % (role, required_with_default)


@pytest.mark.parametrize("role", ROLES)
def test_every_option_is_typed_and_described(role):
    problems = []
    for name, option in _walk(_spec(role)):
        if option.get("type", "str") not in TYPES:
            problems.append("%s: unknown type %r" % (name, option.get("type")))
        if "type" not in option:
            problems.append("%s: no type" % name)
        description = option.get("description")
        if not description:
            problems.append("%s: no description" % name)
        elif not all(isinstance(line, str) for line in (description if isinstance(description, list) else [description])):
            problems.append("%s: a description line that is not text (a ': ' in a plain YAML scalar?)" % name)
        if option.get("type") == "list" and "elements" not in option:
            problems.append("%s: list without elements" % name)
    assert not problems, "%s:\n%s" % (role, "\n".join(problems))


@pytest.mark.parametrize("role", ROLES)
def test_literal_defaults_match_spec_default_and_type(role):
    spec = _spec(role)
    problems = []
    for name, value in _defaults(role).items():
        option = spec.get(name, {})
        if _templated(value):
            if "default" in option:
                problems.append("%s: templated default, but the spec states a literal default" % name)
            continue
        if option.get("default") != value:
            problems.append("%s: defaults/main.yml has %r, spec default is %r" % (name, value, option.get("default")))
        expected = TYPES.get(option.get("type", "str"), (object,))
        if value is not None and not isinstance(value, expected):
            problems.append("%s: default %r is not of type %s" % (name, value, option.get("type")))
        if value is not None and isinstance(value, bool) and option.get("type") == "int":
            problems.append("%s: bool default for an int option" % name)
        if option.get("choices") and value is not None and value not in option["choices"]:
            problems.append("%s: default %r not in choices %r" % (name, value, option["choices"]))
    assert not problems, "%s:\n%s" % (role, "\n".join(problems))


@pytest.mark.parametrize("role", ROLES)
def test_public_names_are_prefixed_and_internals_stay_in_vars(role):
    bad = [n for n in _defaults(role) if not n.startswith(role + "_")]
    assert not bad, "%s: defaults without the %s_ prefix: %s" % (role, role, bad)
    bad_spec = [n for n in _spec(role) if not n.startswith(role + "_")]
    assert not bad_spec, "%s: spec options without the %s_ prefix: %s" % (role, role, bad_spec)
    vars_dir = ROLES_DIR / role / "vars"
    for path in sorted(vars_dir.glob("*.yml")) if vars_dir.is_dir() else []:
        public = [n for n in _load(path) if not n.startswith("__" + role + "_")]
        assert not public, "%s: vars/%s defines non-internal names %s" % (role, path.name, public)


def _entry_points():
    for role in ROLES:
        specs = _load(ROLES_DIR / role / "meta" / "argument_specs.yml")["argument_specs"]
        for entry in sorted(specs):
            if entry != "main":
                yield role, entry


@pytest.mark.parametrize("role,entry", list(_entry_points()))
def test_other_entry_points_describe_shared_options_as_main_does(role, entry):
    """An option of another entry point that the main one has too is the same option: same type,
    default and description (a copy that drifted would validate differently)."""
    main, other = _spec(role), _spec(role, entry)
    drifted = sorted(name for name in set(main) & set(other) if main[name] != other[name])
    assert not drifted, "%s/%s: options that differ from the main entry point's: %s" % (role, entry, drifted)


@pytest.mark.parametrize("role,entry", list(_entry_points()))
def test_entry_points_have_a_task_file(role, entry):
    assert (ROLES_DIR / role / "tasks" / ("%s.yml" % entry)).is_file()


def test_supervisor_check_entry_point_takes_every_main_option():
    """tasks_from: check validates what the main entry point will (plus one program)."""
    assert set(_spec("supervisor", "check")) == set(_spec("supervisor")) | {"supervisor_program"}
    assert _spec("supervisor", "check")["supervisor_program"]["options"] == \
        _spec("supervisor", "program")["supervisor_program"]["options"]
