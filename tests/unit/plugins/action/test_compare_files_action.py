"""The controller side of asgi.channels.compare_files: templates replaced by their checksums."""

import hashlib

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.asgi.channels.plugins.action import compare_files as action


def test_sha1_is_of_the_utf8_bytes_the_template_action_writes():
    text = "# café\nminfds = 20000\n"
    assert action.sha1_text(text) == hashlib.sha1(text.encode("utf-8")).hexdigest()


def test_src_is_replaced_by_the_checksum_of_its_rendering():
    rendered = {"a.conf.j2": "alpha\n", "b.conf.j2": "beta\n"}
    entries = [
        {"src": "a.conf.j2", "dest": "/etc/a.conf", "owner": "root", "mode": "0644"},
        {"src": "b.conf.j2", "dest": "/etc/b.conf"},
    ]
    result = action.with_checksums(entries, rendered.__getitem__)
    assert result == [
        {"dest": "/etc/a.conf", "owner": "root", "mode": "0644", "checksum": hashlib.sha1(b"alpha\n").hexdigest()},
        {"dest": "/etc/b.conf", "checksum": hashlib.sha1(b"beta\n").hexdigest()},
    ]
    assert "src" in entries[0], "the task's own arguments are not changed"


def test_an_entry_with_a_checksum_is_passed_on_without_rendering():
    def render(_src):
        raise AssertionError("nothing to render")
    entry = {"dest": "/etc/motd", "checksum": "0" * 40}
    assert action.with_checksums([entry], render) == [entry]


def test_src_and_checksum_together_are_refused():
    with pytest.raises(AnsibleActionFail, match="mutually exclusive"):
        action.with_checksums([{"src": "a.j2", "checksum": "0" * 40, "dest": "/etc/a"}], str)


@pytest.mark.parametrize("files", [None, "a.j2", [["a.j2"]], [{"src": "a.j2"}, "b.j2"]])
def test_files_must_be_a_list_of_dictionaries(files):
    with pytest.raises(AnsibleActionFail, match="list of dictionaries"):
        action.with_checksums(files, str)
