"""asgi.channels.paths against real temporary directories (no file system mocks)."""

import grp
import json
import os
import pwd
import stat

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.asgi.channels.plugins.modules import paths as paths_module

# The user and group running the tests, by name: attributes the tests can set without root.
OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def apply(capsys, *entries, check=False, diff=False, fails=False):
    """Run the module on ``entries``; return its result, asserting success (or failure)."""
    args = {"paths": list(entries), "_ansible_check_mode": check, "_ansible_diff": diff}
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            paths_module.main()
    result = json.loads(capsys.readouterr().out)
    assert exited.value.code == (1 if fails else 0), result
    assert bool(result.get("failed")) is fails, result
    return result


def mode_of(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def listing(directory):
    """Every name below ``directory``, relative, sorted (to show that nothing else was left)."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def directory(path, **attributes):
    return dict(path=str(path), **attributes)


def link(path, src, **attributes):
    return dict(path=str(path), state="link", src=str(src), **attributes)


def absent(path):
    return dict(path=str(path), state="absent")


# ---- directories --------------------------------------------------------------------------------


def test_nested_directories_created_with_attributes(capsys, tmp_path):
    leaf = tmp_path / "a" / "b" / "c"
    result = apply(capsys, directory(leaf, owner=OWNER, group=GROUP, mode="0750"))
    assert result["changed"] is True
    assert result["paths"] == [{"path": str(leaf), "state": "directory", "changed": True}]
    # As ansible.builtin.file does: every directory it creates gets the attributes, parents too.
    for created in (tmp_path / "a", tmp_path / "a" / "b", leaf):
        assert created.is_dir()
        assert mode_of(created) == 0o750
        assert created.owner() == OWNER
        assert created.group() == GROUP


def test_existing_parents_keep_their_attributes(capsys, tmp_path):
    parent = tmp_path / "parent"
    parent.mkdir()
    parent.chmod(0o755)
    apply(capsys, directory(parent / "child", mode="0700"))
    assert mode_of(parent) == 0o755
    assert mode_of(parent / "child") == 0o700


def test_second_run_changes_nothing(capsys, tmp_path):
    entries = [
        directory(tmp_path / "a" / "b", owner=OWNER, group=GROUP, mode="0750"),
        link(tmp_path / "current", "a/b", owner=OWNER, group=GROUP),
        absent(tmp_path / "gone"),
    ]
    assert apply(capsys, *entries)["changed"] is True
    result = apply(capsys, *entries)
    assert result["changed"] is False
    assert [item["changed"] for item in result["paths"]] == [False, False, False]


def test_mode_change_reported_and_applied(capsys, tmp_path):
    target = tmp_path / "d"
    target.mkdir()
    target.chmod(0o755)
    result = apply(capsys, directory(target, mode="0700"), diff=True)
    assert result["changed"] is True
    assert mode_of(target) == 0o700
    assert result["diff"] == [{
        "before": {"path": str(target), "state": "directory", "mode": "0755"},
        "after": {"path": str(target), "state": "directory", "mode": "0700"},
    }]


def test_symbolic_mode(capsys, tmp_path):
    target = tmp_path / "d"
    apply(capsys, directory(target, mode="u=rwx,g=rx,o="))
    assert mode_of(target) == 0o750
    assert apply(capsys, directory(target, mode="u=rwx,g=rx,o="))["changed"] is False


def test_existing_file_where_a_directory_is_wanted_fails_naming_the_path(capsys, tmp_path):
    target = tmp_path / "not-a-dir"
    target.write_text("data")
    result = apply(capsys, directory(target), fails=True)
    assert result["msg"] == "%s already exists as a file" % target
    assert target.read_text() == "data"


def test_directory_below_a_file_fails_naming_the_path(capsys, tmp_path):
    (tmp_path / "file").write_text("data")
    target = tmp_path / "file" / "sub"
    result = apply(capsys, directory(target), fails=True)
    assert result["msg"].startswith("cannot apply state=directory to %s: " % target)
    assert "Not a directory" in result["msg"]


def test_link_to_a_directory_is_followed(capsys, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    real.chmod(0o755)
    (tmp_path / "alias").symlink_to("real")
    result = apply(capsys, directory(tmp_path / "alias", mode="0700"))
    assert result["changed"] is True
    assert (tmp_path / "alias").is_symlink()
    assert mode_of(real) == 0o700


def test_link_to_a_file_where_a_directory_is_wanted_fails_naming_both(capsys, tmp_path):
    (tmp_path / "file").write_text("data")
    (tmp_path / "alias").symlink_to("file")
    result = apply(capsys, directory(tmp_path / "alias"), fails=True)
    assert result["msg"] == "%s already exists as a file (the link %s points to it)" % (
        tmp_path / "file", tmp_path / "alias")


def test_unknown_owner_fails_naming_the_path(capsys, tmp_path):
    target = tmp_path / "d"
    result = apply(capsys, directory(target, owner="no-such-user-asgi-channels"), fails=True)
    assert result["msg"] == "%s: chown failed: failed to look up user no-such-user-asgi-channels" % target


# ---- links --------------------------------------------------------------------------------------


def test_link_created_with_src_as_given(capsys, tmp_path):
    (tmp_path / "releases" / "r1").mkdir(parents=True)
    current = tmp_path / "current"
    result = apply(capsys, link(current, "releases/r1"))
    assert result["paths"] == [{"path": str(current), "state": "link", "changed": True}]
    assert os.readlink(str(current)) == "releases/r1"
    assert current.resolve() == (tmp_path / "releases" / "r1").resolve()


def test_link_to_a_missing_target_is_created(capsys, tmp_path):
    apply(capsys, link(tmp_path / "dangling", "/nonexistent/target"))
    assert os.readlink(str(tmp_path / "dangling")) == "/nonexistent/target"


def test_link_already_right_is_no_change(capsys, tmp_path):
    (tmp_path / "current").symlink_to("r1")
    before = os.lstat(str(tmp_path / "current")).st_ino
    result = apply(capsys, link(tmp_path / "current", "r1", owner=OWNER, group=GROUP))
    assert result["changed"] is False
    assert os.lstat(str(tmp_path / "current")).st_ino == before


def test_link_retargeted_by_a_rename_that_leaves_nothing_behind(capsys, tmp_path):
    current = tmp_path / "current"
    current.symlink_to("r1")
    old_inode = os.lstat(str(current)).st_ino
    result = apply(capsys, link(current, "r2"), diff=True)
    assert result["changed"] is True
    assert os.readlink(str(current)) == "r2"
    # a new link took the old one's place (os.replace of a temporary link), none is left over
    assert os.lstat(str(current)).st_ino != old_inode
    assert listing(tmp_path) == ["current"]
    assert result["diff"] == [{
        "before": {"path": str(current), "state": "link", "src": "r1"},
        "after": {"path": str(current), "state": "link", "src": "r2"},
    }]


def test_link_replaces_a_file(capsys, tmp_path):
    target = tmp_path / "conf"
    target.write_text("old")
    apply(capsys, link(target, "/etc/hostname"))
    assert os.readlink(str(target)) == "/etc/hostname"
    assert listing(tmp_path) == ["conf"]


def test_link_attributes_are_the_links_own(capsys, tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target").chmod(0o700)
    apply(capsys, link(tmp_path / "current", "target", owner=OWNER, group=GROUP))
    link_stat = os.lstat(str(tmp_path / "current"))
    assert (link_stat.st_uid, link_stat.st_gid) == (os.getuid(), os.getgid())
    assert mode_of(tmp_path / "target") == 0o700


def test_link_refuses_to_replace_a_directory(capsys, tmp_path):
    kept = tmp_path / "current"
    (kept / "inside").mkdir(parents=True)
    result = apply(capsys, link(kept, "elsewhere"), fails=True)
    assert result["msg"] == "refusing to replace the directory %s with a link to elsewhere" % kept
    assert listing(tmp_path) == ["current", "current/inside"]


def test_link_in_a_missing_directory_fails_naming_the_path(capsys, tmp_path):
    target = tmp_path / "missing" / "current"
    result = apply(capsys, link(target, "r1"), fails=True)
    assert result["msg"].startswith("cannot apply state=link to %s: " % target)
    assert listing(tmp_path) == []


def test_failed_rename_removes_the_temporary_link(tmp_path):
    # The module refuses a directory before trying; a directory that appears meanwhile makes the
    # rename itself fail, which the function must clean up after.
    (tmp_path / "appeared" / "inside").mkdir(parents=True)
    with pytest.raises(OSError):
        paths_module.replace_with_link(str(tmp_path / "appeared"), "r1")
    assert listing(tmp_path) == ["appeared", "appeared/inside"]


# ---- removals -----------------------------------------------------------------------------------


def test_absent_removes_a_file(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    result = apply(capsys, absent(tmp_path / "file"))
    assert result["changed"] is True
    assert listing(tmp_path) == []


def test_absent_removes_a_link_not_its_target(capsys, tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "kept").write_text("x")
    (tmp_path / "link").symlink_to("target")
    apply(capsys, absent(tmp_path / "link"))
    assert listing(tmp_path) == ["target", "target/kept"]


def test_absent_removes_a_directory_tree(capsys, tmp_path):
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "file").write_text("x")
    (tree / "link").symlink_to("/nonexistent")
    apply(capsys, absent(tree))
    assert listing(tmp_path) == []


def test_absent_on_nothing_is_no_change(capsys, tmp_path):
    result = apply(capsys, absent(tmp_path / "never"), diff=True)
    assert result["changed"] is False
    assert result["paths"] == [{"path": str(tmp_path / "never"), "state": "absent", "changed": False}]
    assert result["diff"] == []


# ---- check mode and diff ------------------------------------------------------------------------


def test_check_mode_reports_changes_and_makes_none(capsys, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d").chmod(0o755)
    (tmp_path / "current").symlink_to("r1")
    (tmp_path / "file").write_text("x")
    entries = [
        directory(tmp_path / "new" / "leaf", mode="0700"),
        directory(tmp_path / "d", mode="0700"),
        link(tmp_path / "current", "r2"),
        link(tmp_path / "new-link", "r1"),
        absent(tmp_path / "file"),
    ]
    before = listing(tmp_path)
    result = apply(capsys, *entries, check=True)
    assert result["changed"] is True
    assert [item["changed"] for item in result["paths"]] == [True] * 5
    assert listing(tmp_path) == before
    assert mode_of(tmp_path / "d") == 0o755
    assert os.readlink(str(tmp_path / "current")) == "r1"


def test_check_mode_without_changes(capsys, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d").chmod(0o755)
    result = apply(capsys, directory(tmp_path / "d", mode="0755"), absent(tmp_path / "no"), check=True)
    assert result["changed"] is False


def test_diff_lists_each_changed_path(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "same").mkdir()
    result = apply(
        capsys,
        directory(tmp_path / "same"),
        directory(tmp_path / "new"),
        link(tmp_path / "link", "new"),
        absent(tmp_path / "file"),
        diff=True,
        check=True,
    )
    states = [(d["before"]["state"], d["after"]["state"]) for d in result["diff"]]
    assert states == [("absent", "directory"), ("absent", "link"), ("file", "absent")]
    assert [d["before"]["path"] for d in result["diff"]] == [
        str(tmp_path / "new"), str(tmp_path / "link"), str(tmp_path / "file")]
    assert result["diff"][1]["after"]["src"] == "new"


def test_no_diff_unless_asked(capsys, tmp_path):
    assert "diff" not in apply(capsys, directory(tmp_path / "d"))


# ---- validation and failures --------------------------------------------------------------------


@pytest.mark.parametrize("entry, message", [
    ({"path": "relative/dir"}, "path must be absolute, without . or .. components, got 'relative/dir'"),
    ({"path": "/srv/app/../.."}, "path must be absolute, without . or .. components, got '/srv/app/../..'"),
    ({"path": "/srv/./app"}, "path must be absolute, without . or .. components, got '/srv/./app'"),
    ({"path": "//", "state": "absent"}, "refusing to remove /"),
    ({"path": "/x", "src": "/y"}, "/x: src is only used with state=link (state is directory)"),
    ({"path": "/x", "state": "link", "src": "/y", "mode": "0755"},
     "/x: mode does not apply to a link (state=link); set owner and group only"),
    ({"path": "/x", "state": "absent", "owner": "root", "mode": "0700"},
     "/x: owner, mode not used with state=absent"),
])
def test_invalid_entries_are_refused_before_anything_is_applied(capsys, tmp_path, entry, message):
    result = apply(capsys, directory(tmp_path / "first"), entry, fails=True)
    assert result["msg"] == message
    assert result["changed"] is False
    assert result["paths"] == []
    assert listing(tmp_path) == []


def test_link_without_src_is_refused(capsys, tmp_path):
    result = apply(capsys, {"path": str(tmp_path / "l"), "state": "link"}, fails=True)
    assert "src" in result["msg"]


def test_failure_returns_the_entries_applied_before_it(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    result = apply(capsys, directory(tmp_path / "made"), directory(tmp_path / "file"),
                   directory(tmp_path / "never"), fails=True)
    assert result["changed"] is True
    assert result["paths"] == [{"path": str(tmp_path / "made"), "state": "directory", "changed": True}]
    assert listing(tmp_path) == ["file", "made"]


def test_trailing_slash_is_ignored(capsys, tmp_path):
    (tmp_path / "r1").mkdir()
    result = apply(capsys, link(str(tmp_path / "current") + "/", "r1"))
    assert result["paths"][0]["path"] == str(tmp_path / "current") + "/"
    assert os.readlink(str(tmp_path / "current")) == "r1"
    assert listing(tmp_path) == ["current", "r1"]
