"""asgi.channels.warn: each message becomes a warning of the task, which changes nothing."""

import json

import pytest

from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.asgi.channels.plugins.modules import warn


@pytest.fixture(autouse=True)
def no_earlier_warnings():
    """A module's warnings are kept per process until it exits; each test is one module run."""
    module_warnings._global_warnings.clear()


def shown(result):
    """The warnings' texts (ansible-core 2.19 returns each as a summary with its message)."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def run(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            warn.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_each_message_is_a_warning(capsys):
    code, result = run(capsys, msg=["first", "", "  ", "second"])
    assert code == 0, result
    assert result["changed"] is False
    assert result["messages"] == ["first", "second"]
    assert shown(result) == ["first", "second"]


def test_no_message_no_warning(capsys):
    code, result = run(capsys, msg=[])
    assert code == 0, result
    assert result["messages"] == []
    assert shown(result) == []


def test_check_mode_is_the_same(capsys):
    code, result = run(capsys, msg=["in check mode"], _ansible_check_mode=True)
    assert code == 0, result
    assert shown(result) == ["in check mode"]


def test_msg_is_required(capsys):
    code, result = run(capsys)
    assert code == 1
    assert "msg" in result["msg"]
