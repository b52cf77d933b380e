"""asgi.channels.websocket_probe against a real WebSocket server on loopback (see ../conftest.py)."""

import base64
import hashlib
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.asgi.channels.plugins.modules import websocket_probe


def run(capsys, **args):
    """Run the module with ``args``; return (exit code, result dict)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            websocket_probe.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


def ok(capsys, **args):
    code, result = run(capsys, **args)
    assert code == 0, result
    assert not result.get("failed"), result
    return result


def failed(capsys, **args):
    code, result = run(capsys, **args)
    assert code == 1, result
    assert result["failed"] is True
    return result


def expected_accept(key):
    return base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()


# ---- good calls ---------------------------------------------------------------------------------


def test_handshake_only(capsys, ws_server):
    result = ok(capsys, url=ws_server.url("/echo"))
    assert result["changed"] is False
    assert result["status"] == 101
    assert result["handshake_ms"] > 0
    assert result["headers"]["upgrade"] == "websocket"
    assert result["headers"]["server"] == "unit-test"
    assert result["subprotocol"] is None
    assert "reply" not in result
    assert result["messages"] == []


def test_send_and_expect_reply(capsys, ws_server):
    result = ok(capsys, url=ws_server.url("/echo"), send='{"message": "hello"}', expect="hello", timeout=5)
    assert result["changed"] is False
    assert result["status"] == 101
    assert result["reply"] == '{"message": "hello"}'
    assert result["handshake_ms"] > 0
    assert result["reply_ms"] > 0
    assert "broadcast_ms" not in result
    assert ws_server.errors == []


def test_send_without_expect_returns_first_message(capsys, ws_server):
    result = ok(capsys, url=ws_server.url("/echo"), send="anything")
    assert result["reply"] == "anything"


def test_expect_without_send_waits_for_server_message(capsys, ws_server):
    result = ok(capsys, url=ws_server.url("/greet"), expect="welcome")
    assert result["reply"] == "welcome"
    assert result["reply_ms"] > 0


def test_messages_before_the_expected_one_are_skipped_and_returned(capsys, ws_server):
    result = ok(capsys, url=ws_server.url("/greet"), send="second", expect="second")
    assert result["reply"] == "second"
    assert result["messages"] == ["welcome", "second"]


def test_check_mode_probes_and_reports_no_change(capsys, ws_server):
    result = ok(capsys, url=ws_server.url("/echo"), send="in check mode", expect="check", _ansible_check_mode=True)
    assert result["changed"] is False
    assert result["reply"] == "in check mode"


def test_broadcast_is_received_on_the_second_connection(capsys, ws_server):
    result = ok(capsys, url=ws_server.url("/broadcast"), broadcast=True, send='{"message": "fan out"}',
                expect="fan out", timeout=5)
    assert result["changed"] is False
    assert result["reply"] == '{"message": "fan out"}'
    assert result["broadcast_ms"] > 0
    assert result["listen_handshake_ms"] > 0
    assert "reply_ms" not in result
    # two connections reached the server: the listener first, then the sender
    assert len(ws_server.requests) == 2


def test_broadcast_with_listen_url(capsys, ws_server):
    result = ok(capsys, url=ws_server.url("/broadcast"), listen_url=ws_server.url("/broadcast?listener=1"),
                broadcast=True, send="via listen_url", expect="listen_url")
    assert result["reply"] == "via listen_url"
    assert [request[":target"] for request in ws_server.requests] == ["/broadcast?listener=1", "/broadcast"]


def test_broadcast_fails_when_the_server_only_echoes(capsys, ws_server):
    url = ws_server.url("/echo")
    result = failed(capsys, url=url, broadcast=True, send="only echoed", expect="only echoed", timeout=0.5)
    assert result["msg"] == "timed out after 0.5 s waiting for a message containing 'only echoed' on %s; received nothing" % url


def test_ping_answered_and_fragments_reassembled(capsys, ws_server):
    result = ok(capsys, url=ws_server.url("/ping"), send="hi", expect="pong seen")
    assert result["reply"] == "pong seen: hi"
    assert ws_server.errors == []


@pytest.mark.parametrize("size", [126, 70000])
def test_long_messages_round_trip(capsys, ws_server, size):
    text = "x" * (size - 3) + "end"
    result = ok(capsys, url=ws_server.url("/echo"), send=text, expect="end")
    assert result["reply"] == text


def test_binary_messages_are_listed_not_matched(capsys, ws_server):
    result = ok(capsys, url=ws_server.url("/binary"), send="text", expect="text")
    assert result["messages"] == ["<binary message, 3 bytes>", "text"]


def test_request_headers_host_origin_and_extra(capsys, ws_server):
    ok(capsys, url=ws_server.url("/echo"), host_header="chat.example.test", headers={"Cookie": "sessionid=abc"})
    request = ws_server.requests[-1]
    assert request["host"] == "chat.example.test"
    assert request["origin"] == "http://chat.example.test"
    assert request["cookie"] == "sessionid=abc"
    assert request["sec-websocket-version"] == "13"
    assert len(base64.b64decode(request["sec-websocket-key"])) == 16


def test_default_host_and_origin(capsys, ws_server):
    ok(capsys, url=ws_server.url("/echo"))
    request = ws_server.requests[-1]
    assert request["host"] == "127.0.0.1:%d" % ws_server.port
    assert request["origin"] == "http://127.0.0.1:%d" % ws_server.port


def test_empty_origin_sends_none(capsys, ws_server):
    ok(capsys, url=ws_server.url("/echo"), origin="")
    assert "origin" not in ws_server.requests[-1]


def test_subprotocol_offered_and_chosen(capsys, ws_server):
    result = ok(capsys, url=ws_server.url("/echo"), subprotocols=["chat.v2", "chat.v1"])
    assert ws_server.requests[-1]["sec-websocket-protocol"] == "chat.v2, chat.v1"
    assert result["subprotocol"] == "chat.v2"


def test_wss_with_ca_path(capsys, wss_server, test_certificate):
    result = ok(capsys, url=wss_server.url("/echo", scheme="wss"), host_header="localhost",
                ca_path=test_certificate[0], send="over tls", expect="tls")
    assert result["reply"] == "over tls"
    assert wss_server.requests[-1]["origin"] == "https://localhost"


def test_wss_without_certificate_validation(capsys, wss_server):
    result = ok(capsys, url=wss_server.url("/echo", scheme="wss"), validate_certs=False, send="unverified")
    assert result["reply"] == "unverified"


# ---- bad calls: the exact message ---------------------------------------------------------------


def test_bad_scheme(capsys):
    result = failed(capsys, url="http://127.0.0.1/ws/")
    assert result["msg"] == "url: unsupported scheme 'http' in 'http://127.0.0.1/ws/'; use ws:// or wss://"
    assert result["changed"] is False


def test_connection_refused(capsys, closed_port):
    url = "ws://127.0.0.1:%d/ws/" % closed_port
    result = failed(capsys, url=url)
    assert result["msg"] == "cannot connect to 127.0.0.1:%d for %s: Connection refused" % (closed_port, url)


def test_forbidden_shows_status_and_body(capsys, ws_server):
    url = ws_server.url("/forbidden")
    result = failed(capsys, url=url)
    assert result["msg"] == ("handshake with %s failed: expected status 101, got 403 Forbidden; "
                             "body: 'Access denied by origin validator'" % url)
    assert result["status"] == 403
    assert result["headers"]["content-type"] == "text/plain"


def test_wrong_accept(capsys, ws_server):
    url = ws_server.url("/bad-accept")
    result = failed(capsys, url=url)
    key = ws_server.requests[-1]["sec-websocket-key"]
    assert result["msg"] == ("handshake with %s failed: Sec-WebSocket-Accept is 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=', "
                             "expected '%s'" % (url, expected_accept(key)))


def test_timeout_says_what_was_received(capsys, ws_server):
    url = ws_server.url("/echo")
    result = failed(capsys, url=url, send="ping", expect="pong", timeout=0.5)
    assert result["msg"] == ("timed out after 0.5 s waiting for a message containing 'pong' on %s; "
                             "received 1 message(s): 'ping'" % url)
    assert result["messages"] == ["ping"]
    assert result["status"] == 101


def test_server_close_frame(capsys, ws_server):
    url = ws_server.url("/close")
    result = failed(capsys, url=url, send="hello", expect="hello")
    assert result["msg"] == ("server closed the connection (code 1008, reason 'not allowed') while waiting for "
                             "a message containing 'hello' on %s; received nothing" % url)


def test_unrequested_subprotocol(capsys, ws_server):
    url = ws_server.url("/bad-proto")
    result = failed(capsys, url=url)
    assert result["msg"] == "handshake with %s failed: the server chose subprotocol 'surprise', requested []" % url


def test_wss_untrusted_certificate(capsys, wss_server):
    url = wss_server.url("/echo", scheme="wss")
    result = failed(capsys, url=url)
    assert result["msg"].startswith("TLS handshake with 127.0.0.1:%d for %s failed: " % (wss_server.port, url))
    assert "CERTIFICATE_VERIFY_FAILED" in result["msg"]


def test_reserved_header(capsys, ws_server):
    result = failed(capsys, url=ws_server.url("/echo"), headers={"Origin": "http://evil.test"})
    assert result["msg"] == ("headers: 'Origin' is set by the module itself; use the url, host_header, origin or "
                             "subprotocols options instead")


def test_listen_url_needs_broadcast(capsys, ws_server):
    result = failed(capsys, url=ws_server.url("/echo"), listen_url=ws_server.url("/echo"))
    assert result["msg"] == "listen_url is only used with broadcast=true"


def test_broadcast_needs_send(capsys, ws_server):
    result = failed(capsys, url=ws_server.url("/broadcast"), broadcast=True)
    assert result["msg"] == "broadcast is True but all of the following are missing: send"


def test_timeout_must_be_positive(capsys, ws_server):
    result = failed(capsys, url=ws_server.url("/echo"), timeout=0)
    assert result["msg"] == "timeout must be greater than 0, got 0.0"
