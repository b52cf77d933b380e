#!/usr/bin/env python
"""wsclient: a WebSocket and HTTP test client for the Molecule scenarios (standard library only).

It runs inside the test containers, so test traffic stays on their loopback or on the project's
own docker network. Every command prints one JSON object and exits 0 when its check passed, 1
otherwise (the JSON then has "error").

  wsclient probe URL [--send TEXT --expect SUBSTR] [--hold S]      one connection
  wsclient hold URL --count N --seconds S [--send TEXT --expect SUBSTR]
  wsclient broadcast SEND_URL LISTEN_URL --send TEXT --expect SUBSTR [--distinct pid|host]
  wsclient listen URL --expect SUBSTR [--ready-file F]            wait for a message (e.g. across a restart)
  wsclient http URL [--count N] [--interval S]
  wsclient burst URL --count N --key K                            N connections at once: who answered
  wsclient load HTTP_URL WS_URL --stop-file F [--rate R] [--clients K] [--ready-file F]
                                                                  steady load until stopped (fault tests)
  wsclient stream SEND_URL LISTEN_URL --stop-file F [--listeners K] [--interval S] [--ready-file F]
                                                                  numbered broadcasts until stopped: the
                                                                  longest gap and the messages lost

Common options: --unix-socket PATH (the URL's host then only fills the Host header),
--host-header H (also the TLS server name of a WebSocket), --origin O, --header K:V (repeatable),
--insecure (no TLS verification), --cafile F (verify against this CA), --timeout S.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import select
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class Closed(Exception):
    """The peer closed the connection (close frame or EOF)."""


def _ms(start):
    return round((time.monotonic() - start) * 1000, 1)


def _open_socket(url, opts):
    """A connected (and, for wss/https, TLS-wrapped) socket for ``url``."""
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme in ("wss", "https")
    if opts.unix_socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(opts.timeout)
        sock.connect(opts.unix_socket)
    else:
        port = parts.port or (443 if secure else 80)
        sock = socket.create_connection((parts.hostname, port), timeout=opts.timeout)
    if secure:
        context = ssl.create_default_context(cafile=opts.cafile)
        if opts.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock, server_hostname=opts.host_header or parts.hostname)
    return sock


def _host_header(url, opts):
    return opts.host_header or urllib.parse.urlsplit(url).netloc


def handshake_request(path, host, key, origin=None, extra_headers=()):
    """The opening handshake request (RFC 6455 section 4.1), as bytes; ``extra_headers`` are
    whole header lines ("Name: value")."""
    lines = [
        "GET %s HTTP/1.1" % path,
        "Host: %s" % host,
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: %s" % key,
        "Sec-WebSocket-Version: 13",
    ]
    if origin:
        lines.append("Origin: %s" % origin)
    lines += extra_headers
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def accept_key(key):
    """The Sec-WebSocket-Accept a server must answer to ``key`` (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


class WebSocket:
    """A client connection: handshake, masked frames out, unmasked frames in."""

    def __init__(self, url, opts):
        self.url, self.opts = url, opts
        self.buffer = b""
        self.status = None
        self.headers = {}
        start = time.monotonic()
        self.sock = _open_socket(url, opts)
        key = base64.b64encode(os.urandom(16)).decode()
        parts = urllib.parse.urlsplit(url)
        path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        self.sock.sendall(handshake_request(path, _host_header(url, opts), key, opts.origin, opts.header or ()))
        head = self._read_head()
        status_line, _sep, rest = head.partition("\r\n")
        self.status = int(status_line.split()[1])
        for line in rest.split("\r\n"):
            name, _sep, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.handshake_ms = _ms(start)
        if self.status != 101:
            raise RuntimeError("handshake answered %d, not 101" % self.status)
        if self.headers.get("sec-websocket-accept") != accept_key(key):
            raise RuntimeError("bad Sec-WebSocket-Accept %r" % self.headers.get("sec-websocket-accept"))

    def _read_head(self):
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Closed("connection closed during the handshake")
            self.buffer += chunk
        head, _sep, self.buffer = self.buffer.partition(b"\r\n\r\n")
        return head.decode("latin-1")

    def send(self, opcode, payload=b""):
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_text(self, text):
        self.send(OP_TEXT, text.encode())

    def _frame_from_buffer(self):
        """(fin, opcode, payload) when a whole frame is buffered, else None."""
        data = self.buffer
        if len(data) < 2:
            return None
        fin, opcode = data[0] & 0x80, data[0] & 0x0F
        masked, length, offset = data[1] & 0x80, data[1] & 0x7F, 2
        if length == 126:
            if len(data) < 4:
                return None
            length, offset = struct.unpack("!H", data[2:4])[0], 4
        elif length == 127:
            if len(data) < 10:
                return None
            length, offset = struct.unpack("!Q", data[2:10])[0], 10
        mask = b""
        if masked:
            mask, offset = data[offset:offset + 4], offset + 4
        if len(data) < offset + length:
            return None
        payload = data[offset:offset + length]
        if masked:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.buffer = data[offset + length:]
        return bool(fin), opcode, payload

    def pump(self, deadline):
        """Read one frame (answering pings); returns (opcode, payload) or None at the deadline."""
        while True:
            frame = self._frame_from_buffer()
            if frame is not None:
                _fin, opcode, payload = frame
                if opcode == OP_PING:
                    self.send(OP_PONG, payload)
                    continue
                if opcode == OP_CLOSE:
                    raise Closed("close frame %r" % payload[:2])
                return opcode, payload
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                raise Closed("EOF")
            self.buffer += chunk

    def wait_text(self, substring, timeout):
        """The first text frame containing ``substring`` (fragments joined), or None."""
        deadline = time.monotonic() + timeout
        parts = []
        while True:
            got = self.pump(deadline)
            if got is None:
                return None
            opcode, payload = got
            if opcode in (OP_TEXT, OP_CONT):
                parts.append(payload)
                text = b"".join(parts).decode("utf-8", "replace")
                parts = []
                if substring is None or substring in text:
                    return text

    def alive(self, timeout):
        """Ping and wait for the pong: True when the connection still works end to end."""
        token = os.urandom(8)
        self.send(OP_PING, token)
        deadline = time.monotonic() + timeout
        while True:
            got = self.pump(deadline)
            if got is None:
                return False
            if got == (OP_PONG, token):
                return True

    def close(self):
        try:
            self.send(OP_CLOSE, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


def _round_trip(ws, opts):
    ws.send_text(opts.send)
    start = time.monotonic()
    reply = ws.wait_text(opts.expect, opts.timeout)
    return reply, _ms(start)


def cmd_probe(opts):
    ws = WebSocket(opts.url, opts)
    result = {"status": ws.status, "handshake_ms": ws.handshake_ms}
    if opts.hold:
        deadline = time.monotonic() + opts.hold
        while ws.pump(deadline) is not None:
            pass
        result["held_s"] = opts.hold
    if opts.send is not None:
        reply, reply_ms = _round_trip(ws, opts)
        result.update(reply=reply, reply_ms=reply_ms)
        if reply is None:
            result["error"] = "no reply containing %r within %ss" % (opts.expect, opts.timeout)
    elif opts.hold and not ws.alive(opts.timeout):
        result["error"] = "no pong after holding the connection %ss" % opts.hold
    ws.close()
    return result


def cmd_hold(opts):
    conns, errors = [], {}

    def count(reason):
        errors[reason] = errors.get(reason, 0) + 1

    for _attempt in range(opts.count):
        try:
            conns.append(WebSocket(opts.url, opts))
        except (OSError, RuntimeError, Closed, ValueError, IndexError) as exc:
            count("handshake: %s" % (exc.__class__.__name__ if isinstance(exc, OSError) else exc))
    opened = len(conns)
    failed_handshakes = opts.count - opened
    live = {ws.sock.fileno(): ws for ws in conns}
    deadline = time.monotonic() + opts.seconds
    while live and time.monotonic() < deadline:
        ready = select.select(list(live), [], [], max(0.0, min(1.0, deadline - time.monotonic())))[0]
        for fd in ready:
            ws = live[fd]
            try:
                ws.pump(time.monotonic() + 0.01)
            except (OSError, Closed) as exc:
                count("dropped: %s" % exc)
                del live[fd]
    alive = 0
    for ws in live.values():
        try:
            ok = _round_trip(ws, opts)[0] is not None if opts.send is not None else ws.alive(opts.timeout)
        except (OSError, Closed) as exc:
            ok = False
            count("final check: %s" % exc)
        alive += 1 if ok else 0
        ws.close()
    result = {
        "opened": opened,
        "failed_handshakes": failed_handshakes,
        "alive_at_end": alive,
        "dropped": opened - alive,
        "errors": errors,
    }
    if failed_handshakes or alive != opened:
        result["error"] = "%d failed handshakes, %d of %d dropped" % (failed_handshakes, opened - alive, opened)
    return result


def _hello(ws, timeout):
    """The JSON hello a consumer sends on connect (the sample app's chat sends one), or {}."""
    text = ws.wait_text('"hello"', timeout)
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def _sender_elsewhere(opts, listener_hello):
    """A sender connection whose hello differs from the listener's in ``opts.distinct``."""
    for _attempt in range(opts.attempts):
        sender = WebSocket(opts.url, opts)
        hello = _hello(sender, opts.timeout)
        if hello.get(opts.distinct) is not None and hello.get(opts.distinct) != listener_hello.get(opts.distinct):
            return sender, hello
        sender.close()
    raise RuntimeError(
        "no sender reached another %s than the listener's %r in %d attempts"
        % (opts.distinct, listener_hello.get(opts.distinct), opts.attempts)
    )


def cmd_broadcast(opts):
    listener = WebSocket(opts.listen_url, opts)
    result = {}
    if opts.distinct:
        listener_hello = _hello(listener, opts.timeout)
        sender, sender_hello = _sender_elsewhere(opts, listener_hello)
        result.update(listener_hello=listener_hello, sender_hello=sender_hello)
    else:
        sender = WebSocket(opts.url, opts)
        # Let the listener's group membership settle: the consumer joins its group on connect.
        listener.pump(time.monotonic() + 0.5)
    start = time.monotonic()
    sender.send_text(opts.send)
    reply = listener.wait_text(opts.expect, opts.timeout)
    result.update(broadcast_ms=_ms(start), reply=reply)
    if reply is None:
        result["error"] = "listener got nothing containing %r within %ss" % (opts.expect, opts.timeout)
    sender.close()
    listener.close()
    return result


def cmd_listen(opts):
    """Stay connected until a text containing ``opts.expect`` arrives (answering pings)."""
    ws = WebSocket(opts.url, opts)
    connected_at = time.time()
    if opts.ready_file:
        with open(opts.ready_file, "w", encoding="utf-8") as ready:
            ready.write("%f\n" % connected_at)
    reply = ws.wait_text(opts.expect, opts.timeout)
    result = {"connected_at": connected_at, "received_at": time.time(), "reply": reply}
    if reply is None:
        result["error"] = "nothing containing %r within %ss" % (opts.expect, opts.timeout)
    ws.close()
    return result


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, host, timeout):
        super().__init__(host, timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def _http_get(opts):
    parts = urllib.parse.urlsplit(opts.url)
    if opts.unix_socket:
        conn = _UnixHTTPConnection(opts.unix_socket, parts.netloc, opts.timeout)
    elif parts.scheme == "https":
        context = ssl._create_unverified_context() if opts.insecure else ssl.create_default_context(cafile=opts.cafile)
        conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=opts.timeout, context=context)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=opts.timeout)
    headers = {"Host": _host_header(opts.url, opts)}
    for item in opts.header or []:
        name, _sep, value = item.partition(":")
        headers[name.strip()] = value.strip()
    try:
        conn.request("GET", (parts.path or "/") + ("?" + parts.query if parts.query else ""), headers=headers)
        response = conn.getresponse()
        cookies = [value.split(";", 1)[0] for name, value in response.getheaders() if name.lower() == "set-cookie"]
        return response.status, response.read().decode("utf-8", "replace"), cookies
    finally:
        conn.close()


def cmd_http(opts):
    statuses, errors, bodies, ok_count, cookies = {}, {}, [], 0, []
    latencies = []
    for i in range(opts.count):
        start = time.monotonic()
        try:
            status, body, set_cookies = _http_get(opts)
        except (OSError, http.client.HTTPException) as exc:
            key = exc.__class__.__name__
            errors[key] = errors.get(key, 0) + 1
        else:
            latencies.append(_ms(start))
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            ok_count += 1 if 200 <= status < 300 else 0
            if opts.all_bodies or not bodies:
                bodies.append(body[:4000])
            cookies += [cookie for cookie in set_cookies if cookie not in cookies]
        if opts.interval and i + 1 < opts.count:
            time.sleep(opts.interval)
    result = {
        "ok_count": ok_count,
        "failed": opts.count - ok_count,
        "statuses": statuses,
        "errors": errors,
        "bodies": bodies,
        "cookies": cookies,
        "max_ms": max(latencies) if latencies else None,
    }
    if ok_count != opts.count:
        result["error"] = "%d of %d requests did not answer 2xx" % (opts.count - ok_count, opts.count)
    return result


# --- load: steady HTTP requests plus held WebSockets, until a stop file appears --------------------

MAX_RECORDED = 200  # failures/events kept in the JSON (the counters count them all)


class _LoadStats:
    """Counters and timestamped events of a load run, shared by the HTTP threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.http = {"sent": 0, "ok": 0, "failed": 0, "failures": []}
        self.ws = {"opened": 0, "dropped": 0, "reconnected": 0, "failed_reconnects": 0, "events": []}

    def http_result(self, started, error):
        with self.lock:
            if error is None:
                self.http["ok"] += 1
                return
            self.http["failed"] += 1
            if len(self.http["failures"]) < MAX_RECORDED:
                self.http["failures"].append({"t": round(started, 3), "error": error})

    def ws_event(self, kind, client, pid=None, error=None):
        """Count a WebSocket event (opened, dropped, reconnected, failed_reconnect) and record it."""
        counter = {"failed_reconnect": "failed_reconnects"}.get(kind, kind)
        self.ws[counter] += 1
        if kind != "opened" and len(self.ws["events"]) < MAX_RECORDED:
            self.ws["events"].append({"t": round(time.time(), 3), "event": kind, "client": client,
                                      "pid": pid, "error": error})


def _one_request(opts, stats):
    started = time.time()
    try:
        status, _body, _cookies = _http_get(opts)
    except (OSError, http.client.HTTPException) as exc:
        stats.http_result(started, "%s: %s" % (exc.__class__.__name__, exc))
        return
    stats.http_result(started, None if 200 <= status < 300 else "HTTP %d" % status)


def _http_load(opts, stats, stop):
    """Start one request (a new TCP connection) every 1/rate s, each in its own thread."""
    workers = []
    interval = 1.0 / opts.rate
    next_at = time.monotonic()
    while not stop.is_set():
        worker = threading.Thread(target=_one_request, args=(opts, stats), daemon=True)
        worker.start()
        workers.append(worker)
        with stats.lock:
            stats.http["sent"] += 1
        workers = [w for w in workers if w.is_alive()]
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))
    for worker in workers:
        worker.join(opts.timeout + 1)


class _LoadClient:
    """One held WebSocket of the load: its connection (None while down) and its server's pid."""

    def __init__(self, index):
        self.index, self.ws, self.pid, self.host, self.retry_at = index, None, None, None, 0.0

    def connect(self, opts):
        ws = WebSocket(opts.ws_url, opts)
        hello = _hello(ws, opts.hello_timeout) if opts.hello_timeout else {}
        self.pid, self.host = hello.get("pid"), hello.get("host")
        self.ws = ws

    def drop(self):
        try:
            self.ws.sock.close()
        except OSError:
            pass
        self.ws = None


def _open_all(clients, opts, stats):
    """Open every client (retrying for up to --timeout s); False when some never opened."""
    deadline = time.monotonic() + opts.timeout
    while time.monotonic() < deadline:
        for client in clients:
            if client.ws is None:
                try:
                    client.connect(opts)
                    stats.ws_event("opened", client.index, client.pid)
                except (OSError, RuntimeError, Closed, ValueError, IndexError):
                    pass
        if all(client.ws is not None for client in clients):
            return True
        time.sleep(0.2)
    return False


def _serve_clients(clients, opts, stats, stopped):
    """Answer pings, notice drops (close frame, EOF, error) and reconnect, until ``stopped()``."""
    while not stopped():
        live = {c.ws.sock.fileno(): c for c in clients if c.ws is not None}
        ready = select.select(list(live), [], [], 0.2)[0] if live else []
        if not live:
            time.sleep(0.2)
        for fd in ready:
            client = live[fd]
            try:
                client.ws.pump(time.monotonic() + 0.01)
            except (OSError, Closed) as exc:
                stats.ws_event("dropped", client.index, client.pid, "%s: %s" % (exc.__class__.__name__, exc))
                client.drop()
                client.retry_at = time.monotonic() + opts.reconnect_delay
        for client in clients:
            if client.ws is None and time.monotonic() >= client.retry_at and not stopped():
                try:
                    client.connect(opts)
                    stats.ws_event("reconnected", client.index, client.pid)
                except (OSError, RuntimeError, Closed, ValueError, IndexError) as exc:
                    stats.ws_event("failed_reconnect", client.index, None, "%s: %s" % (exc.__class__.__name__, exc))
                    client.retry_at = time.monotonic() + opts.reconnect_delay


def _still_open(clients, opts):
    """How many clients' connections still answer a ping at the end (then closed)."""
    count = 0
    for client in clients:
        if client.ws is None:
            continue
        try:
            count += 1 if client.ws.alive(min(opts.timeout, 5.0)) else 0
        except (OSError, Closed):
            pass
        client.ws.close()
    return count


def _read_to_close(sock):
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def cmd_burst(opts):
    """--count GET requests, each on a new connection opened and sent right after the previous one,
    before any answer is read (a burst like a load balancer or a browser opening its pool); counts
    the answers by the value of --key in their JSON body (e.g. the pid of the process that served it)."""
    parts = urllib.parse.urlsplit(opts.url)
    request = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
               % (parts.path or "/", _host_header(opts.url, opts))).encode()
    socks = []
    for _attempt in range(opts.count):
        sock = _open_socket(opts.url, opts)
        sock.sendall(request)
        socks.append(sock)
    by_key, failed = {}, 0
    for sock in socks:
        with sock:
            head, _sep, body = _read_to_close(sock).partition(b"\r\n\r\n")
        try:
            status = head.split(b"\r\n", 1)[0].split(b" ")
            if len(status) < 2 or status[1] != b"200":
                raise ValueError(head[:40])
            value = str(json.loads(body)[opts.key])
        except (ValueError, KeyError):
            failed += 1
            continue
        by_key[value] = by_key.get(value, 0) + 1
    result = {"by_key": by_key, "failed": failed}
    if failed:
        result["error"] = "%d of %d requests failed" % (failed, opts.count)
    return result


def cmd_load(opts):
    """Steady HTTP load plus --clients held WebSockets until --stop-file exists (or SIGTERM)."""
    stats, stop = _LoadStats(), threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    clients = [_LoadClient(i) for i in range(opts.clients)]
    if not _open_all(clients, opts, stats):
        return {"error": "only %d of %d WebSockets opened" % (stats.ws["opened"], opts.clients)}
    http_thread = threading.Thread(target=_http_load, args=(opts, stats, stop), daemon=True)
    started_at = time.time()
    http_thread.start()
    if opts.ready_file:
        with open(opts.ready_file + ".tmp", "w", encoding="utf-8") as ready:
            json.dump({"started_at": started_at, "pids": [client.pid for client in clients],
                       "hosts": [client.host for client in clients]}, ready)
        os.replace(opts.ready_file + ".tmp", opts.ready_file)  # whole, or not there yet

    def stopped():
        if not stop.is_set() and os.path.exists(opts.stop_file):
            stop.set()
        return stop.is_set()

    _serve_clients(clients, opts, stats, stopped)
    http_thread.join()
    stats.ws["still_open"] = _still_open(clients, opts)
    stats.ws["pids"] = sorted({c.pid for c in clients if c.pid is not None})
    return {"started_at": started_at, "stopped_at": time.time(), "http": stats.http, "ws": stats.ws}


def _stream_sequence(text, tag):
    """The sequence number in a broadcast of ``cmd_stream`` (its text carries TAG-N), or None."""
    marker = tag + "-"
    start = text.find(marker)
    if start < 0:
        return None
    digits = ""
    for char in text[start + len(marker):]:
        if not char.isdigit():
            break
        digits += char
    return int(digits) if digits else None


def _stream_report(sent, listener, stopped_at, settle):
    """One listener's figures: received, lost (sent more than ``settle`` seconds before the stop
    and never received), the longest gap between two receipts (or from the first send)."""
    received = listener["got"]
    due = [seq for seq, at in sent.items() if at <= stopped_at - settle]
    lost = [seq for seq in due if seq not in received]
    times = sorted(received.values())
    gaps = [b - a for a, b in zip([listener["opened_at"]] + times, times + [stopped_at])]
    return {"hello": listener["hello"], "received": len(received), "lost": len(lost),
            "first_lost": lost[:5], "max_gap_ms": round(max(gaps) * 1000) if gaps else None,
            "closed": listener["closed"], "got_at": sorted([seq, round(at, 3)] for seq, at in received.items())}


def cmd_stream(opts):
    """Listeners held on LISTEN_URL, a sender on SEND_URL sending TAG-N every --interval until
    --stop-file exists; the sender reconnects when its connection fails, the listeners do not
    (they are the clients connected before a fault). Reports, per listener, what it received,
    lost and the longest gap without a message."""
    tag = "stream%s" % os.urandom(3).hex()
    listeners = []
    for _index in range(opts.listeners):
        ws = WebSocket(opts.listen_url, opts)
        listeners.append({"ws": ws, "hello": _hello(ws, opts.timeout), "got": {}, "closed": None,
                          "opened_at": time.time()})
    sent, send_errors, sender, seq = {}, [], None, 0
    if opts.ready_file:
        with open(opts.ready_file, "w", encoding="utf-8") as ready:
            ready.write("%f\n" % time.time())
    next_send = time.monotonic()
    while not os.path.exists(opts.stop_file):
        if time.monotonic() >= next_send:
            next_send = time.monotonic() + opts.interval
            try:
                if sender is None:
                    sender = WebSocket(opts.url, opts)
                seq += 1
                sender.send_text("%s-%d" % (tag, seq))
                sent[seq] = time.time()
            except (OSError, RuntimeError, Closed) as exc:
                send_errors.append("%.3f %s" % (time.time(), exc))
                if sender is not None:
                    sender.sock.close()
                sender = None
        for conn in [entry["ws"] for entry in listeners if entry["closed"] is None] + ([sender] if sender else []):
            try:
                got = conn.pump(time.monotonic() + 0.005)
            except (OSError, Closed) as exc:
                if conn is sender:
                    send_errors.append("%.3f %s" % (time.time(), exc))
                    sender.sock.close()
                    sender = None
                else:
                    next(entry for entry in listeners if entry["ws"] is conn)["closed"] = "%.3f %s" % (time.time(), exc)
                continue
            if got is not None and conn is not sender and got[0] in (OP_TEXT, OP_CONT):
                number = _stream_sequence(got[1].decode("utf-8", "replace"), tag)
                if number is not None:
                    entry = next(entry for entry in listeners if entry["ws"] is conn)
                    entry["got"].setdefault(number, time.time())
    stopped_at = time.time()
    reports = [_stream_report(sent, entry, stopped_at, opts.settle) for entry in listeners]
    for conn in [entry["ws"] for entry in listeners if entry["closed"] is None] + ([sender] if sender else []):
        conn.close()
    result = {"sent": len(sent), "send_errors": len(send_errors), "first_send_errors": send_errors[:5],
              "sent_at": sorted([seq, round(at, 3)] for seq, at in sent.items()), "stopped_at": round(stopped_at, 3),
              "listeners": reports, "max_gap_ms": max(r["max_gap_ms"] or 0 for r in reports),
              "lost": max(r["lost"] for r in reports), "closed": sum(1 for r in reports if r["closed"])}
    if result["closed"]:
        result["error"] = "%d of %d listeners were disconnected" % (result["closed"], len(reports))
    return result


def parse_args(argv):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--unix-socket")
    common.add_argument("--host-header")
    common.add_argument("--origin")
    common.add_argument("--header", action="append", help="K: V, repeatable")
    common.add_argument("--insecure", action="store_true")
    common.add_argument("--cafile", help="verify TLS against this CA file (the system's CAs otherwise)")
    common.add_argument("--timeout", type=float, default=10.0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    probe = sub.add_parser("probe", parents=[common])
    probe.add_argument("url")
    probe.add_argument("--send")
    probe.add_argument("--expect")
    probe.add_argument("--hold", type=float, default=0)
    hold = sub.add_parser("hold", parents=[common])
    hold.add_argument("url")
    hold.add_argument("--count", type=int, required=True)
    hold.add_argument("--seconds", type=float, required=True)
    hold.add_argument("--send")
    hold.add_argument("--expect")
    broadcast = sub.add_parser("broadcast", parents=[common])
    broadcast.add_argument("url", help="the sender's URL")
    broadcast.add_argument("listen_url")
    broadcast.add_argument("--send", required=True)
    broadcast.add_argument("--expect", required=True)
    broadcast.add_argument(
        "--distinct",
        help="a key of the consumers' JSON hello (e.g. pid, host): reconnect the sender until its "
        "hello differs from the listener's, to prove a broadcast crosses processes or hosts",
    )
    broadcast.add_argument("--attempts", type=int, default=40)
    listen = sub.add_parser("listen", parents=[common])
    listen.add_argument("url")
    listen.add_argument("--expect", required=True)
    listen.add_argument("--ready-file", help="written once the connection is open")
    http_cmd = sub.add_parser("http", parents=[common])
    http_cmd.add_argument("url")
    http_cmd.add_argument("--count", type=int, default=1)
    http_cmd.add_argument("--interval", type=float, default=0)
    http_cmd.add_argument("--all-bodies", action="store_true",
                          help="keep the body of every answer in 'bodies' (default: the first only)")
    burst = sub.add_parser("burst", parents=[common])
    burst.add_argument("url")
    burst.add_argument("--count", type=int, required=True)
    burst.add_argument("--key", required=True, help="the field of the answers' JSON body to count them by")
    load = sub.add_parser("load", parents=[common])
    load.add_argument("url", help="HTTP URL requested --rate times a second, a new connection each")
    load.add_argument("ws_url", help="WebSocket URL the --clients connections hold")
    load.add_argument("--stop-file", required=True, help="the run ends once this file exists")
    load.add_argument(
        "--ready-file", help="written once every WebSocket is open and the load runs: JSON started_at, "
        "pids (each client's server pid, from its hello)")
    load.add_argument("--rate", type=float, default=20.0)
    load.add_argument("--clients", type=int, default=8)
    load.add_argument("--reconnect-delay", type=float, default=0.2)
    load.add_argument(
        "--hello-timeout", type=float, default=0,
        help="wait this long for the consumer's JSON hello on connect (its pid is recorded); 0: none")
    stream = sub.add_parser("stream", parents=[common])
    stream.add_argument("url", help="the sender's URL (it reconnects when its connection fails)")
    stream.add_argument("listen_url", help="the URL the --listeners connections hold")
    stream.add_argument("--stop-file", required=True, help="the run ends once this file exists")
    stream.add_argument("--ready-file", help="written once every listener is connected")
    stream.add_argument("--listeners", type=int, default=4)
    stream.add_argument("--interval", type=float, default=0.1, help="seconds between two broadcasts")
    stream.add_argument("--settle", type=float, default=2.0,
                        help="a message sent less than this long before the stop is not counted as lost")
    return parser.parse_args(argv)


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    commands = {"probe": cmd_probe, "hold": cmd_hold, "broadcast": cmd_broadcast, "listen": cmd_listen, "http": cmd_http,
                "burst": cmd_burst, "load": cmd_load, "stream": cmd_stream}
    command = commands[opts.command]
    try:
        result = command(opts)
    except (OSError, RuntimeError, Closed, ValueError, IndexError) as exc:
        result = {"error": "%s: %s" % (exc.__class__.__name__, exc)}
    result["ok"] = "error" not in result
    print(json.dumps(result, sort_keys=True))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
