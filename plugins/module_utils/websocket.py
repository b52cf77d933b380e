# -*- coding: utf-8 -*-
# Copyright: asgi.channels contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A small WebSocket client (RFC 6455), standard library only.

It runs on the managed host (Debian's python3), so it imports nothing outside the standard
library. The protocol pieces are small functions, tested one by one in
tests/unit/plugins/module_utils/; ``WebSocketClient`` puts them together on a socket.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import collections
import hashlib
import os
import socket
import ssl
import struct
import time

from urllib.parse import urlsplit

# RFC 6455 section 1.3: the GUID the server appends to the client's key.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)
DATA_OPCODES = (OP_CONTINUATION, OP_TEXT, OP_BINARY)

# Headers the client sets itself; ``headers`` must not repeat them.
RESERVED_HEADERS = (
    "host",
    "upgrade",
    "connection",
    "origin",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
)

MAX_HEAD_BYTES = 65536
BODY_SNIPPET_CHARS = 200

Frame = collections.namedtuple("Frame", ["fin", "rsv", "opcode", "masked", "payload"])


class WebSocketError(Exception):
    """A probe failed; ``str(error)`` is the message shown to the user."""


# --------------------------------------------------------------------------------------------
# Small protocol functions
# --------------------------------------------------------------------------------------------


def new_key():
    """A fresh Sec-WebSocket-Key: 16 random bytes, base64 encoded (RFC 6455 section 4.1)."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_key(key):
    """The Sec-WebSocket-Accept a server must answer to ``key`` (RFC 6455 section 4.2.2)."""
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def parse_url(url):
    """Split a ws:// or wss:// URL into (secure, host, port, resource).

    ``resource`` is the path (``/`` when empty) with the query string. Raises ValueError with a
    message for the user when the URL cannot be used.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise ValueError("url: unsupported scheme %r in %r; use ws:// or wss://" % (parts.scheme, url))
    if not parts.hostname:
        raise ValueError("url: no host in %r" % url)
    if parts.fragment:
        raise ValueError("url: a WebSocket URL has no fragment (#...) in %r" % url)
    try:
        port = parts.port
    except ValueError:
        raise ValueError("url: invalid port in %r" % url) from None
    secure = scheme == "wss"
    if port is None:
        port = 443 if secure else 80
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    return secure, parts.hostname, port, resource


def default_host_header(host, port, secure):
    """The Host header for ``host``:``port`` (port left out when it is the scheme's default)."""
    name = "[%s]" % host if ":" in host else host
    if port == (443 if secure else 80):
        return name
    return "%s:%d" % (name, port)


def host_without_port(host_header):
    """The host name of a Host header value (``example.com:8443`` -> ``example.com``)."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    if host_header.count(":") == 1:
        return host_header.split(":", 1)[0]
    return host_header


def _check_header_text(name, value):
    for text in (name, value):
        if "\r" in text or "\n" in text:
            raise ValueError("headers: %r contains a line break" % text)
    if not name or ":" in name or " " in name:
        raise ValueError("headers: %r is not a valid header name" % name)


def build_handshake(resource, host_header, key, origin=None, subprotocols=None, headers=None):
    """The opening handshake request (RFC 6455 section 4.1), as bytes.

    Raises ValueError when ``headers`` holds a header the client sets itself or a value that
    would break the request.
    """
    lines = [
        "GET %s HTTP/1.1" % resource,
        "Host: %s" % host_header,
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: %s" % key,
        "Sec-WebSocket-Version: 13",
    ]
    if origin:
        lines.append("Origin: %s" % origin)
    if subprotocols:
        lines.append("Sec-WebSocket-Protocol: %s" % ", ".join(subprotocols))
    for name, value in (headers or {}).items():
        value = str(value)
        _check_header_text(name, value)
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(
                "headers: %r is set by the module itself; use the url, host_header, origin or "
                "subprotocols options instead" % name
            )
        lines.append("%s: %s" % (name, value))
    for text in (resource, host_header, origin or "") + tuple(subprotocols or ()):
        if "\r" in text or "\n" in text:
            raise ValueError("%r contains a line break" % text)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def split_response_head(data):
    """Split ``data`` at the end of the HTTP response head: (head, rest), or None if incomplete."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    return data[:end], data[end + 4:]


def parse_response_head(head):
    """Parse an HTTP response head (bytes, without the blank line).

    Returns (status, reason, headers) where header names are lower case and repeated headers
    are joined with ", ". Raises ValueError when it is not an HTTP/1.x response.
    """
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    status_line = lines[0]
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError("not an HTTP/1.1 response: %r" % status_line[:80])
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        if ":" not in line:
            raise ValueError("malformed header line: %r" % line[:80])
        name, value = line.split(":", 1)
        name = name.strip().lower()
        value = value.strip()
        headers[name] = "%s, %s" % (headers[name], value) if name in headers else value
    return status, reason, headers


def header_tokens(value):
    """The comma separated, lower-cased tokens of a header value."""
    return [token.strip().lower() for token in (value or "").split(",") if token.strip()]


def mask_payload(payload, mask_key):
    """XOR ``payload`` with the 4-byte ``mask_key`` (masking and unmasking are the same)."""
    if not payload:
        return b""
    length = len(payload)
    repeated = (mask_key * (length // 4 + 1))[:length]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(length, "big")


def encode_frame(opcode, payload=b"", mask=True, fin=True, mask_key=None):
    """One frame as bytes. Clients mask (RFC 6455 section 5.3); ``mask_key`` defaults to random."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if opcode in CONTROL_OPCODES and (len(payload) > 125 or not fin):
        raise ValueError("a control frame carries at most 125 bytes and is never fragmented")
    head = bytearray([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if mask else 0
    length = len(payload)
    if length < 126:
        head.append(mask_bit | length)
    elif length < 65536:
        head.append(mask_bit | 126)
        head += struct.pack("!H", length)
    else:
        head.append(mask_bit | 127)
        head += struct.pack("!Q", length)
    if not mask:
        return bytes(head) + payload
    if mask_key is None:
        mask_key = os.urandom(4)
    if len(mask_key) != 4:
        raise ValueError("a mask key is 4 bytes")
    return bytes(head) + mask_key + mask_payload(payload, mask_key)


def decode_frame(data):
    """Decode the first frame in ``data``.

    Returns (Frame, number of bytes used), or None while ``data`` holds less than a whole frame.
    A masked frame is returned unmasked (with ``masked`` True).
    """
    if len(data) < 2:
        return None
    first, second = data[0], data[1]
    offset = 2
    length = second & 0x7F
    if length == 126:
        if len(data) < offset + 2:
            return None
        length = struct.unpack("!H", data[offset:offset + 2])[0]
        offset += 2
    elif length == 127:
        if len(data) < offset + 8:
            return None
        length = struct.unpack("!Q", data[offset:offset + 8])[0]
        offset += 8
    masked = bool(second & 0x80)
    mask_key = b""
    if masked:
        if len(data) < offset + 4:
            return None
        mask_key = bytes(data[offset:offset + 4])
        offset += 4
    if len(data) < offset + length:
        return None
    payload = bytes(data[offset:offset + length])
    if masked:
        payload = mask_payload(payload, mask_key)
    frame = Frame(fin=bool(first & 0x80), rsv=(first >> 4) & 0x7, opcode=first & 0x0F, masked=masked, payload=payload)
    return frame, offset + length


def close_payload(code=1000, reason=""):
    """The payload of a close frame: 2-byte status code and UTF-8 reason."""
    return struct.pack("!H", code) + reason.encode("utf-8")


def parse_close_payload(payload):
    """(code, reason) of a close frame's payload; code is None when the frame carries none."""
    if len(payload) < 2:
        return None, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace")


def body_snippet(body, limit=BODY_SNIPPET_CHARS):
    """The start of a response body, on one line, for an error message."""
    text = " ".join(body.decode("utf-8", "replace").split())
    if len(text) > limit:
        text = text[:limit] + "..."
    return text


def _elapsed_ms(start):
    return round((time.monotonic() - start) * 1000.0, 3)


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


class WebSocketClient:
    """One WebSocket connection: connect and handshake, send text, wait for messages.

    Every failure raises WebSocketError with a message naming the URL and what happened.
    """

    def __init__(self, url, timeout=10.0, host_header=None, origin=None, headers=None,
                 subprotocols=None, validate_certs=True, ca_path=None):
        self.url = url
        self.timeout = float(timeout)
        try:
            self.secure, self.host, self.port, self.resource = parse_url(url)
        except ValueError as exc:
            raise WebSocketError(str(exc)) from None
        self.host_header = host_header or default_host_header(self.host, self.port, self.secure)
        if origin is None:
            origin = "%s://%s" % ("https" if self.secure else "http", self.host_header)
        self.origin = origin
        self.headers = headers or {}
        self.subprotocols = list(subprotocols or [])
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.sock = None
        self.buffer = bytearray()
        self.status = None
        self.reason = None
        self.response_headers = {}
        self.subprotocol = None
        self.handshake_ms = None
        self.messages = []
        self.closed_by_server = None

    # -- connection ---------------------------------------------------------------------------

    def _tls_context(self):
        if not self.validate_certs:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.ca_path)

    def connect(self):
        """Open the TCP (and TLS) connection and complete the opening handshake."""
        key = new_key()
        try:
            request = build_handshake(self.resource, self.host_header, key, self.origin,
                                      self.subprotocols, self.headers)
        except ValueError as exc:
            raise WebSocketError(str(exc)) from None
        start = time.monotonic()
        deadline = start + self.timeout
        where = "%s:%d" % (self.host, self.port)
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except socket.timeout:
            raise WebSocketError("cannot connect to %s for %s: timed out after %s s" % (where, self.url, self.timeout))
        except (OSError, socket.error) as exc:
            raise WebSocketError("cannot connect to %s for %s: %s" % (where, self.url, exc.strerror or exc))
        self.sock = sock
        if self.secure:
            try:
                context = self._tls_context()
                self.sock = context.wrap_socket(sock, server_hostname=host_without_port(self.host_header))
            except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
                self.close()
                raise WebSocketError("TLS handshake with %s for %s failed: %s" % (where, self.url, exc))
        try:
            self.sock.sendall(request)
        except (OSError, socket.error) as exc:
            self.close()
            raise WebSocketError("cannot send the handshake to %s: %s" % (self.url, exc))
        head = self._read_head(deadline)
        try:
            self.status, self.reason, self.response_headers = parse_response_head(head)
        except ValueError as exc:
            self.close()
            raise WebSocketError("handshake with %s failed: %s" % (self.url, exc))
        try:
            self._check_handshake(key, deadline)
        except WebSocketError:
            self.close()
            raise
        self.handshake_ms = _elapsed_ms(start)

    def _recv(self, deadline):
        """Read what the socket has, waiting until ``deadline``; b'' when the peer closed.

        Raises socket.timeout when the deadline passes first.
        """
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(remaining)
        return self.sock.recv(65536)

    def _read_head(self, deadline):
        while True:
            split = split_response_head(bytes(self.buffer))
            if split is not None:
                head, rest = split
                self.buffer = bytearray(rest)
                return head
            if len(self.buffer) > MAX_HEAD_BYTES:
                self.close()
                raise WebSocketError("handshake with %s failed: response head larger than %d bytes"
                                     % (self.url, MAX_HEAD_BYTES))
            try:
                data = self._recv(deadline)
            except socket.timeout:
                self.close()
                raise WebSocketError("timed out after %s s waiting for the handshake response from %s"
                                     % (self.timeout, self.url))
            except (OSError, socket.error) as exc:
                self.close()
                raise WebSocketError("handshake with %s failed: %s" % (self.url, exc))
            if not data:
                received = len(self.buffer)
                self.close()
                raise WebSocketError("handshake with %s failed: connection closed before a response (%d bytes received)"
                                     % (self.url, received))
            self.buffer += data

    def _read_body_snippet(self, deadline):
        """Read some of a refused handshake's response body (for the error message)."""
        try:
            wanted = int(self.response_headers.get("content-length", "-1"))
        except ValueError:
            wanted = -1
        limit = 1024 if wanted < 0 else min(wanted, 1024)
        # Without a length, wait briefly for a body that may never come.
        deadline = min(deadline, time.monotonic() + (1.0 if wanted < 0 else self.timeout))
        while len(self.buffer) < limit:
            try:
                data = self._recv(deadline)
            except (socket.timeout, OSError, socket.error):
                break
            if not data:
                break
            self.buffer += data
        return body_snippet(bytes(self.buffer[:limit]))

    def _check_handshake(self, key, deadline):
        status_text = "%d %s" % (self.status, self.reason)
        if self.status != 101:
            snippet = self._read_body_snippet(deadline)
            raise WebSocketError("handshake with %s failed: expected status 101, got %s; body: %r"
                                 % (self.url, status_text.strip(), snippet))
        headers = self.response_headers
        if "websocket" not in header_tokens(headers.get("upgrade")):
            raise WebSocketError("handshake with %s failed: Upgrade header is %r, expected 'websocket'"
                                 % (self.url, headers.get("upgrade")))
        if "upgrade" not in header_tokens(headers.get("connection")):
            raise WebSocketError("handshake with %s failed: Connection header is %r, expected 'Upgrade'"
                                 % (self.url, headers.get("connection")))
        expected = accept_key(key)
        got = headers.get("sec-websocket-accept")
        if got != expected:
            raise WebSocketError("handshake with %s failed: Sec-WebSocket-Accept is %r, expected %r"
                                 % (self.url, got, expected))
        if headers.get("sec-websocket-extensions"):
            raise WebSocketError("handshake with %s failed: the server enabled extensions %r that were not requested"
                                 % (self.url, headers["sec-websocket-extensions"]))
        chosen = headers.get("sec-websocket-protocol")
        if chosen is not None and chosen not in self.subprotocols:
            raise WebSocketError("handshake with %s failed: the server chose subprotocol %r, requested %r"
                                 % (self.url, chosen, self.subprotocols))
        self.subprotocol = chosen

    # -- messages -----------------------------------------------------------------------------

    def _send_frame(self, opcode, payload):
        self.sock.sendall(encode_frame(opcode, payload, mask=True))

    def send_text(self, text):
        """Send one text message (a single masked frame)."""
        try:
            self._send_frame(OP_TEXT, text.encode("utf-8"))
        except (OSError, socket.error) as exc:
            raise WebSocketError("cannot send the message on %s: %s" % (self.url, exc))

    def _next_frame(self, deadline):
        while True:
            decoded = decode_frame(self.buffer)
            if decoded is not None:
                frame, used = decoded
                del self.buffer[:used]
                return frame
            data = self._recv(deadline)
            if not data:
                return None
            self.buffer += data

    def receive(self, deadline):
        """The next whole data message as (opcode, payload), answering pings on the way.

        Returns None when the server closes the connection (``closed_by_server`` then holds
        (code, reason)). Raises socket.timeout when ``deadline`` passes first.
        """
        opcode = None
        parts = []
        while True:
            frame = self._next_frame(deadline)
            if frame is None:
                self.closed_by_server = (None, "")
                return None
            if frame.masked:
                raise WebSocketError("protocol error on %s: the server sent a masked frame" % self.url)
            if frame.rsv:
                raise WebSocketError("protocol error on %s: reserved bits set without an extension" % self.url)
            if frame.opcode == OP_PING:
                self._send_frame(OP_PONG, frame.payload)
                continue
            if frame.opcode == OP_PONG:
                continue
            if frame.opcode == OP_CLOSE:
                self.closed_by_server = parse_close_payload(frame.payload)
                try:
                    self._send_frame(OP_CLOSE, frame.payload[:2])
                except (OSError, socket.error):
                    pass
                return None
            if frame.opcode not in DATA_OPCODES:
                raise WebSocketError("protocol error on %s: unknown opcode 0x%x" % (self.url, frame.opcode))
            if frame.opcode == OP_CONTINUATION and opcode is None:
                raise WebSocketError("protocol error on %s: continuation frame without a message" % self.url)
            if frame.opcode != OP_CONTINUATION and opcode is not None:
                raise WebSocketError("protocol error on %s: new message inside a fragmented one" % self.url)
            if opcode is None:
                opcode = frame.opcode
            parts.append(frame.payload)
            if frame.fin:
                return opcode, b"".join(parts)

    def wait_for(self, expect=None, timeout=None):
        """Wait for a text message containing ``expect`` (any message when ``expect`` is None).

        Returns (text, milliseconds waited). Messages seen before are kept in ``messages``.
        """
        timeout = self.timeout if timeout is None else float(timeout)
        start = time.monotonic()
        deadline = start + timeout
        wanted = "a message" if expect is None else "a message containing %r" % expect
        while True:
            try:
                message = self.receive(deadline)
            except socket.timeout:
                raise WebSocketError("timed out after %s s waiting for %s on %s; %s"
                                     % (timeout, wanted, self.url, self.describe_received()))
            except (OSError, socket.error) as exc:
                raise WebSocketError("connection to %s failed while waiting for %s: %s; %s"
                                     % (self.url, wanted, exc, self.describe_received()))
            if message is None:
                code, reason = self.closed_by_server
                if code is None:
                    how = "closed the connection without a close frame"
                else:
                    how = "closed the connection (code %s, reason %r)" % (code, reason)
                raise WebSocketError("server %s while waiting for %s on %s; %s"
                                     % (how, wanted, self.url, self.describe_received()))
            opcode, payload = message
            if opcode == OP_BINARY:
                self.messages.append("<binary message, %d bytes>" % len(payload))
                continue
            text = payload.decode("utf-8", "replace")
            self.messages.append(text)
            if expect is None or expect in text:
                return text, _elapsed_ms(start)

    def describe_received(self):
        """What arrived so far, for an error message."""
        if not self.messages:
            return "received nothing"
        return "received %d message(s): %s" % (len(self.messages), ", ".join(repr(m) for m in self.messages))

    def close(self):
        """Send a close frame (best effort) and close the socket."""
        if self.sock is None:
            return
        try:
            if self.status == 101 and self.closed_by_server is None:
                self.sock.settimeout(1.0)
                self._send_frame(OP_CLOSE, close_payload(1000))
        except (OSError, socket.error, ValueError):
            pass
        try:
            self.sock.close()
        except (OSError, socket.error):
            pass
        self.sock = None
