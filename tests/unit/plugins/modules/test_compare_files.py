"""asgi.channels.compare_files against real temporary files (no file system mocks)."""

import grp
import hashlib
import json
import os
import pwd

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.asgi.channels.plugins.modules import compare_files as compare_module

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
CONTENT = b"[supervisord]\nminfds = 20000\n"
SHA1 = hashlib.sha1(CONTENT).hexdigest()


def run(capsys, *entries, check=False, fails=False):
    """Run the module on ``entries``; return its result, asserting success (or failure)."""
    with patch_module_args({"files": list(entries), "_ansible_check_mode": check}):
        with pytest.raises(SystemExit) as exited:
            compare_module.main()
    result = json.loads(capsys.readouterr().out)
    assert exited.value.code == (1 if fails else 0), result
    return result


@pytest.fixture()
def conf(tmp_path):
    path = tmp_path / "supervisord.conf"
    path.write_bytes(CONTENT)
    path.chmod(0o640)
    return path


def entry(path, **wanted):
    return dict(dest=str(path), checksum=wanted.pop("checksum", SHA1), **wanted)


def test_a_matching_file_does_not_differ(capsys, conf):
    result = run(capsys, entry(conf, owner=OWNER, group=GROUP, mode="0640"))
    assert result["differ"] == []
    assert result["files"] == [{"dest": str(conf), "differs": False, "reasons": []}]
    assert result["changed"] is False


def test_numeric_owner_and_group_match_like_names(capsys, conf):
    result = run(capsys, entry(conf, owner=str(os.getuid()), group=str(os.getgid())))
    assert result["differ"] == []


def test_an_uppercase_checksum_matches(capsys, conf):
    assert run(capsys, entry(conf, checksum=SHA1.upper()))["differ"] == []


@pytest.mark.parametrize("wanted, reason", [
    ({"checksum": hashlib.sha1(b"other").hexdigest()}, "content"),
    ({"mode": "0644"}, "mode"),
    ({"mode": "2640"}, "mode"),
    ({"owner": "no-such-user-here"}, "owner"),
    ({"owner": str(os.getuid() + 1)}, "owner"),
    ({"group": "no-such-group-here"}, "group"),
])
def test_one_attribute_that_differs_is_named(capsys, conf, wanted, reason):
    result = run(capsys, entry(conf, **wanted))
    assert result["differ"] == [str(conf)]
    assert result["files"][0]["reasons"] == [reason]


def test_every_difference_is_named(capsys, conf):
    result = run(capsys, entry(conf, checksum="0" * 40, mode="0600", owner="no-such-user-here"))
    assert result["files"][0]["reasons"] == ["content", "owner", "mode"]


def test_omitted_attributes_are_not_compared(capsys, conf):
    conf.chmod(0o600)
    assert run(capsys, entry(conf))["differ"] == []


def test_a_missing_file_differs(capsys, tmp_path):
    result = run(capsys, entry(tmp_path / "absent.conf"))
    assert result["files"][0] == {"dest": str(tmp_path / "absent.conf"), "differs": True, "reasons": ["missing"]}


@pytest.mark.parametrize("kind", ["directory", "link to a matching file"])
def test_anything_but_a_regular_file_differs(capsys, tmp_path, conf, kind):
    path = tmp_path / "target"
    if kind == "directory":
        path.mkdir()
    else:
        path.symlink_to(conf)
    assert run(capsys, entry(path))["files"][0]["reasons"] == ["not a regular file"]


def test_order_is_kept_and_only_the_differing_paths_are_listed(capsys, tmp_path, conf):
    other = tmp_path / "other.conf"
    other.write_bytes(b"x")
    result = run(capsys, entry(other), entry(conf), entry(tmp_path / "gone"))
    assert result["differ"] == [str(other), str(tmp_path / "gone")]
    assert [item["dest"] for item in result["files"]] == [str(other), str(conf), str(tmp_path / "gone")]


def test_check_mode_gives_the_same_answer(capsys, conf):
    assert run(capsys, entry(conf, mode="0644"), check=True)["differ"] == [str(conf)]


@pytest.mark.parametrize("bad, message", [
    ({"dest": "relative.conf"}, "dest must be absolute"),
    ({"checksum": "abc"}, "must be 40 hexadecimal digits"),
    ({"checksum": "g" * 40}, "must be 40 hexadecimal digits"),
    ({"mode": "u=rw,g=r"}, "must be an octal string"),
    ({"mode": "0648"}, "must be an octal string"),
])
def test_bad_values_fail_before_anything_is_read(capsys, conf, bad, message):
    wanted = entry(conf)
    wanted.update(bad)
    result = run(capsys, wanted, fails=True)
    assert message in result["msg"]


def test_an_unreadable_file_fails_with_its_path(capsys, conf, monkeypatch):
    def refuse(_path):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(compare_module, "file_sha1", refuse)
    result = run(capsys, entry(conf), fails=True)
    assert result["msg"].startswith("cannot read %s" % conf)


def test_a_template_needs_the_action_plugin(capsys, conf):
    wanted = dict(dest=str(conf), src="supervisord.conf.j2")
    result = run(capsys, wanted, fails=True)
    assert "rendered by the action plugin" in result["msg"]


@pytest.mark.parametrize("wanted, message", [
    ({"src": "a.j2", "checksum": SHA1}, "mutually exclusive"),
    ({}, "one of the following is required"),
])
def test_exactly_one_of_src_and_checksum(capsys, conf, wanted, message):
    result = run(capsys, dict(dest=str(conf), **wanted), fails=True)
    assert message in result["msg"]
