"""The handshake functions of molecule/shared/files/wsclient.py (the tests' and the bench's client).

wsclient.py is a standalone script copied into the test and bench containers, not a package: it is
loaded here from its path.
"""

import importlib.util
import pathlib

import pytest

WSCLIENT = pathlib.Path(__file__).resolve().parents[2] / "molecule" / "shared" / "files" / "wsclient.py"


@pytest.fixture(scope="module")
def wsclient():
    spec = importlib.util.spec_from_file_location("wsclient", WSCLIENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_accept_key_matches_rfc_6455_example(wsclient):
    assert wsclient.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_handshake_request_lines(wsclient):
    request = wsclient.handshake_request("/ws/chat/?a=1", "localhost", "dGhlIHNhbXBsZSBub25jZQ==",
                                         origin="http://localhost", extra_headers=["Cookie: sessionid=abc"])
    assert request == (
        b"GET /ws/chat/?a=1 HTTP/1.1\r\n"
        b"Host: localhost\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"Origin: http://localhost\r\n"
        b"Cookie: sessionid=abc\r\n"
        b"\r\n"
    )


def test_handshake_request_without_origin_or_extra_headers(wsclient):
    request = wsclient.handshake_request("/", "h:8000", "k")
    assert request.startswith(b"GET / HTTP/1.1\r\nHost: h:8000\r\n")
    assert request.endswith(b"Sec-WebSocket-Version: 13\r\n\r\n")
    assert b"Origin" not in request


@pytest.fixture()
def json_server():
    """A loopback HTTP server answering {"served_by": "a"|"b"} in turn, or 503 on /down."""
    import http.server
    import itertools
    import json
    import threading

    turns = itertools.cycle("ab")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = json.dumps({"served_by": next(turns)}).encode()
            self.send_response(503 if self.path == "/down" else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_burst_counts_the_answers_by_their_json_key(wsclient, json_server):
    result = wsclient.cmd_burst(wsclient.parse_args(["burst", json_server + "/health/", "--count", "6",
                                                     "--key", "served_by"]))
    assert result == {"by_key": {"a": 3, "b": 3}, "failed": 0}


def test_burst_counts_a_non_200_answer_as_failed(wsclient, json_server):
    result = wsclient.cmd_burst(wsclient.parse_args(["burst", json_server + "/down", "--count", "2",
                                                     "--key", "served_by"]))
    assert result["failed"] == 2 and result["by_key"] == {}
    assert result["error"] == "2 of 2 requests failed"


@pytest.mark.parametrize("text,expected", [
    ('{"message": "streamab12cd-17"}', 17),
    ("streamab12cd-3 and more", 3),
    ("streamab12cd-", None),
    ("streamffffff-9", None),
    ("nothing here", None),
])
def test_stream_sequence_reads_the_number_after_its_own_tag(wsclient, text, expected):
    assert wsclient._stream_sequence(text, "streamab12cd") == expected


def test_stream_report_counts_what_a_listener_lost_and_its_longest_gap(wsclient):
    # sent every second from t=0 to t=9; the listener missed 4, 5 and 6 (a 4 s gap from 3 to 7),
    # and 9, sent less than the settle time before the stop, is not counted as lost
    sent = {seq: float(seq) for seq in range(10)}
    listener = {"hello": {"pid": 1}, "opened_at": -0.5, "closed": None,
                "got": {seq: seq + 0.1 for seq in (0, 1, 2, 3, 7, 8)}}
    report = wsclient._stream_report(sent, listener, stopped_at=10.0, settle=2.0)
    assert report["received"] == 6
    assert report["lost"] == 3 and report["first_lost"] == [4, 5, 6]
    assert report["max_gap_ms"] == 4000
    assert report["got_at"][:2] == [[0, 0.1], [1, 1.1]]


def test_stream_report_counts_the_silence_up_to_the_stop(wsclient):
    sent = {seq: float(seq) for seq in range(10)}
    listener = {"hello": {}, "opened_at": 0.0, "closed": "3.5 EOF", "got": {0: 0.1, 1: 1.1}}
    report = wsclient._stream_report(sent, listener, stopped_at=10.0, settle=2.0)
    assert report["lost"] == 7 and report["max_gap_ms"] == 8900 and report["closed"] == "3.5 EOF"
