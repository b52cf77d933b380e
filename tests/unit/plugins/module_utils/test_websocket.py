"""The protocol functions of plugins/module_utils/websocket.py, one by one."""

import base64
import struct

import pytest

from ansible_collections.asgi.channels.plugins.module_utils import websocket as ws

MASK = b"\x37\xfa\x21\x3d"


def test_accept_key_matches_rfc_6455_example():
    assert ws.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_new_key_is_16_random_bytes_in_base64():
    keys = {ws.new_key() for _count in range(20)}
    assert len(keys) == 20
    assert all(len(base64.b64decode(key)) == 16 for key in keys)


@pytest.mark.parametrize("url, expected", [
    ("ws://example.com/ws/chat/", (False, "example.com", 80, "/ws/chat/")),
    ("wss://example.com/ws/", (True, "example.com", 443, "/ws/")),
    ("ws://127.0.0.1:8000", (False, "127.0.0.1", 8000, "/")),
    ("WS://Example.com/a?room=1&x=2", (False, "example.com", 80, "/a?room=1&x=2")),
    ("wss://[::1]:8443/ws/", (True, "::1", 8443, "/ws/")),
])
def test_parse_url(url, expected):
    assert ws.parse_url(url) == expected


@pytest.mark.parametrize("url, message", [
    ("http://example.com/", "url: unsupported scheme 'http' in 'http://example.com/'; use ws:// or wss://"),
    ("example.com/ws", "url: unsupported scheme '' in 'example.com/ws'; use ws:// or wss://"),
    ("ws:///path", "url: no host in 'ws:///path'"),
    ("ws://example.com/#top", "url: a WebSocket URL has no fragment (#...) in 'ws://example.com/#top'"),
    ("ws://example.com:99999/", "url: invalid port in 'ws://example.com:99999/'"),
])
def test_parse_url_rejects(url, message):
    with pytest.raises(ValueError) as error:
        ws.parse_url(url)
    assert str(error.value) == message


@pytest.mark.parametrize("host, port, secure, expected", [
    ("example.com", 80, False, "example.com"),
    ("example.com", 443, True, "example.com"),
    ("example.com", 443, False, "example.com:443"),
    ("127.0.0.1", 8000, False, "127.0.0.1:8000"),
    ("::1", 8443, True, "[::1]:8443"),
])
def test_default_host_header(host, port, secure, expected):
    assert ws.default_host_header(host, port, secure) == expected


@pytest.mark.parametrize("header, expected", [
    ("example.com", "example.com"),
    ("example.com:8443", "example.com"),
    ("[::1]:8443", "::1"),
    ("[::1]", "::1"),
])
def test_host_without_port(header, expected):
    assert ws.host_without_port(header) == expected


def test_build_handshake_request_lines():
    request = ws.build_handshake("/ws/chat/?a=1", "chat.example.com", "dGhlIHNhbXBsZSBub25jZQ==",
                                 origin="http://chat.example.com", subprotocols=["v2.chat", "v1.chat"],
                                 headers={"Cookie": "sessionid=abc"})
    assert request == (
        b"GET /ws/chat/?a=1 HTTP/1.1\r\n"
        b"Host: chat.example.com\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"Origin: http://chat.example.com\r\n"
        b"Sec-WebSocket-Protocol: v2.chat, v1.chat\r\n"
        b"Cookie: sessionid=abc\r\n"
        b"\r\n"
    )


def test_build_handshake_without_origin_or_subprotocols():
    request = ws.build_handshake("/", "h", "k", origin="")
    assert b"Origin" not in request
    assert b"Sec-WebSocket-Protocol" not in request


@pytest.mark.parametrize("headers, message", [
    ({"Host": "x"}, "headers: 'Host' is set by the module itself; use the url, host_header, origin or "
                    "subprotocols options instead"),
    ({"sec-websocket-key": "x"}, "headers: 'sec-websocket-key' is set by the module itself; use the url, "
                                 "host_header, origin or subprotocols options instead"),
    ({"X-Test": "a\r\nInjected: yes"}, "headers: 'a\\r\\nInjected: yes' contains a line break"),
    ({"Bad Name": "x"}, "headers: 'Bad Name' is not a valid header name"),
])
def test_build_handshake_rejects_headers(headers, message):
    with pytest.raises(ValueError) as error:
        ws.build_handshake("/", "h", "k", headers=headers)
    assert str(error.value) == message


def test_split_and_parse_response_head():
    data = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Set-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n\x81\x02hi")
    head, rest = ws.split_response_head(data)
    assert rest == b"\x81\x02hi"
    status, reason, headers = ws.parse_response_head(head)
    assert (status, reason) == (101, "Switching Protocols")
    assert headers == {"upgrade": "websocket", "connection": "Upgrade", "set-cookie": "a=1, b=2"}


def test_split_response_head_waits_for_blank_line():
    assert ws.split_response_head(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n") is None


@pytest.mark.parametrize("head", [b"SSH-2.0-OpenSSH_9.2", b"HTTP/1.1 abc Nope", b"HTTP/1.1 101 OK\r\nno colon"])
def test_parse_response_head_rejects(head):
    with pytest.raises(ValueError):
        ws.parse_response_head(head)


@pytest.mark.parametrize("size, header_length", [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10), (70000, 10)])
def test_encode_decode_round_trip_masked(size, header_length):
    payload = bytes(i % 251 for i in range(size))
    frame = ws.encode_frame(ws.OP_BINARY, payload, mask=True, mask_key=MASK)
    assert len(frame) == header_length + 4 + size
    assert frame[1] & 0x80, "client frames carry the mask bit"
    decoded, used = ws.decode_frame(frame + b"\x81\x00")
    assert used == len(frame)
    assert decoded == ws.Frame(fin=True, rsv=0, opcode=ws.OP_BINARY, masked=True, payload=payload)


@pytest.mark.parametrize("size", [5, 126, 65536])
def test_encode_decode_round_trip_unmasked(size):
    payload = b"x" * size
    frame = ws.encode_frame(ws.OP_TEXT, payload, mask=False, fin=False)
    decoded, used = ws.decode_frame(frame)
    assert used == len(frame)
    assert decoded == ws.Frame(fin=False, rsv=0, opcode=ws.OP_TEXT, masked=False, payload=payload)


def test_encode_frame_length_fields():
    assert ws.encode_frame(ws.OP_TEXT, b"a" * 126, mask=False)[:4] == b"\x81\x7e" + struct.pack("!H", 126)
    assert ws.encode_frame(ws.OP_TEXT, b"a" * 65536, mask=False)[:10] == b"\x81\x7f" + struct.pack("!Q", 65536)


def test_masking_matches_rfc_6455_example():
    # RFC 6455 section 5.7: a masked "Hello" from the client.
    frame = ws.encode_frame(ws.OP_TEXT, "Hello", mask=True, mask_key=MASK)
    assert frame == b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"


def test_mask_payload_is_its_own_inverse():
    payload = b"some payload that is not a multiple of four"
    assert ws.mask_payload(ws.mask_payload(payload, MASK), MASK) == payload
    assert ws.mask_payload(payload, MASK) != payload


def test_encode_frame_uses_a_random_mask():
    assert ws.encode_frame(ws.OP_TEXT, "same") != ws.encode_frame(ws.OP_TEXT, "same")


@pytest.mark.parametrize("opcode, payload, fin", [(ws.OP_PING, b"x" * 126, True), (ws.OP_CLOSE, b"", False)])
def test_encode_frame_rejects_bad_control_frames(opcode, payload, fin):
    with pytest.raises(ValueError):
        ws.encode_frame(opcode, payload, fin=fin)


def test_decode_frame_needs_the_whole_frame():
    frame = ws.encode_frame(ws.OP_TEXT, b"x" * 300, mask=True)
    for cut in (0, 1, 2, 3, 5, 8, len(frame) - 1):
        assert ws.decode_frame(frame[:cut]) is None
    assert ws.decode_frame(frame) is not None


def test_decode_two_frames_from_one_buffer():
    data = ws.encode_frame(ws.OP_TEXT, b"one", mask=False) + ws.encode_frame(ws.OP_PING, b"two", mask=False)
    first, used = ws.decode_frame(data)
    second, _used = ws.decode_frame(data[used:])
    assert (first.opcode, first.payload, second.opcode, second.payload) == (ws.OP_TEXT, b"one", ws.OP_PING, b"two")


def test_decode_frame_reports_reserved_bits():
    frame, _used = ws.decode_frame(b"\xc1\x00")
    assert frame.rsv == 4


def test_close_payload_round_trip():
    assert ws.parse_close_payload(ws.close_payload(1008, "not allowed")) == (1008, "not allowed")
    assert ws.parse_close_payload(b"") == (None, "")


def test_body_snippet_is_one_short_line():
    assert ws.body_snippet(b"<h1>403</h1>\n  Forbidden\n") == "<h1>403</h1> Forbidden"
    assert ws.body_snippet(b"x" * 500) == "x" * 200 + "..."
