#!/usr/bin/env python
"""wsload: the benchmark's WebSocket load generator (asyncio, standard library only).

It runs inside the bench container next to wsclient.py, whose frame codec it reuses: frames are
encoded by ``wsclient.WebSocket.send`` and decoded by ``wsclient.WebSocket._frame_from_buffer``,
called on a small adapter whose ``sock.sendall`` writes to an asyncio transport.

  wsload hold URL --count N --rate R --start-at T (--hold-until T | --hold-for S) [--source ADDR]
      open N connections at R per second from T, answer the server's pings, and at --hold-until
      (or S seconds after the last handshake ended: settled_s in the result says when)
      ping every connection still open (a drop is any that closed or does not answer). One JSON
      line per second ({"kind": "tick", "open": ...}), then one {"kind": "result"} line.
  wsload broadcast URL --subscribers N --messages M --rate R [--connect-batch B] [--processes P]
      N subscribers join the URL's chat room, B at a time concurrently; one more connection sends
      M messages at R per second; every subscriber must get every message. With P > 1 the
      subscribers are spread over P child processes (forked before any event loop), each from its
      own source address (127.0.0.2, .3, ...), so that reading 10,000 sockets is not one
      process's work; arrivals are CLOCK_MONOTONIC times, one clock for every process of the
      machine, and the children hand theirs to the parent, which sends. One {"kind": "result"}
      line; its figures (``broadcast_figures``), times in ms:
        delivery_ms {p50, p99, max}  per delivery: arrival at a subscriber minus the send time;
        message_ms {p50, p99, max}   per message: the time until its LAST subscriber had it, over the
                                     messages every subscriber got;
        messages_incomplete          the messages some subscriber never got (they have no latency:
                                     counted here rather than silently left out of message_ms);
        message_ms_by_seq            each message's latency in sending order (None: incomplete);
        expected, delivered, lost    deliveries (lost = expected - delivered).
      Percentiles are nearest-rank: the p99 of M messages is the ceil(0.99 M)-th smallest, so one
      slow message is the p99 only when M < 100 (at M = 200 the p99 is the third slowest); max
      always shows it.

URL is ws:// or wss:// (TLS; the server's name checked against --host-header, or not at all with
--insecure). Common options: --host-header, --origin, --insecure, --timeout (seconds: the
handshake, the final ping, the broadcast's wait for the last deliveries).
"""

import argparse
import asyncio
import base64
import json
import math
import multiprocessing
import os
import resource
import socket
import ssl
import struct
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsclient  # noqa: E402  (copied next to this file)

IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux >= 4.2
MAX_REASONS = 20  # distinct failure reasons kept (counted all the same)


class _Writer:
    """What ``wsclient.WebSocket.send`` needs of a socket: ``sendall``, here the transport's write."""

    def __init__(self, writer):
        self.sendall = writer.write


class Conn:
    """One client WebSocket over asyncio streams, framed by wsclient's codec."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.sock = _Writer(writer)  # for wsclient.WebSocket.send
        self.buffer = b""  # for wsclient.WebSocket._frame_from_buffer
        self.pongs = {}
        self.read_at = None  # time.monotonic() of the last read: when the frames it completed arrived
        self.dropped = False  # counted as a drop by the hold

    def send(self, opcode, payload=b""):
        wsclient.WebSocket.send(self, opcode, payload)

    async def frames(self):
        """Yield (opcode, payload) of data frames; answers pings, records pongs, raises Closed."""
        while True:
            frame = wsclient.WebSocket._frame_from_buffer(self)
            if frame is None:
                chunk = await self.reader.read(65536)
                self.read_at = time.monotonic()
                if not chunk:
                    raise wsclient.Closed("EOF")
                self.buffer += chunk
                continue
            _fin, opcode, payload = frame
            if opcode == wsclient.OP_PING:
                self.send(wsclient.OP_PONG, payload)
            elif opcode == wsclient.OP_PONG:
                waiter = self.pongs.pop(payload, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(True)
            elif opcode == wsclient.OP_CLOSE:
                raise wsclient.Closed(_close_reason(payload))
            else:
                yield opcode, payload

    def close(self):
        try:
            self.send(wsclient.OP_CLOSE, struct.pack("!H", 1000))
        except (OSError, RuntimeError):
            pass
        self.writer.close()


def _close_reason(payload):
    if len(payload) >= 2:
        code = struct.unpack("!H", payload[:2])[0]
        return ("close %d %s" % (code, payload[2:].decode("utf-8", "replace"))).rstrip()
    return "close (no code)"


async def _tcp(host, port, source):
    """A connected non-blocking TCP socket, from ``source`` when given. The source is bound with
    IP_BIND_ADDRESS_NO_PORT: the port is then picked at connect() time and only has to be unique
    for the 4-tuple; a plain bind(addr, 0) would take a port of the one ephemeral range shared
    with nginx's own connections to Daphne, exhausting it at about 14,000 connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if source:
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


_TLS_CONTEXTS = {}


def _tls_context(insecure):
    """One client context per run (making one loads the trust store: tens of ms, the loop blocked)."""
    if insecure not in _TLS_CONTEXTS:
        context = ssl.create_default_context()
        if insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        _TLS_CONTEXTS[insecure] = context
    return _TLS_CONTEXTS[insecure]


async def connect(url, opts, source=None):
    """Open a WebSocket (TCP from ``source`` when given); raises on any handshake failure."""
    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme == "wss"
    tls = {}
    if secure:
        tls = {"ssl": _tls_context(opts.insecure),
               "server_hostname": (opts.host_header or parts.hostname).rsplit(":", 1)[0]}
    sock = await _tcp(parts.hostname, parts.port or (443 if secure else 80), source)
    reader, writer = await asyncio.open_connection(sock=sock, **tls)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(wsclient.handshake_request(parts.path or "/", opts.host_header or parts.netloc, key, opts.origin))
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        writer.close()
        raise wsclient.Closed("EOF during the handshake") from exc
    status_line, _sep, rest = head.decode("latin-1").partition("\r\n")
    status = int(status_line.split()[1])
    if status != 101 or ("sec-websocket-accept: %s" % wsclient.accept_key(key).lower()) not in rest.lower():
        writer.close()
        raise RuntimeError("HTTP %d" % status)
    return Conn(reader, writer)  # bytes after the head stay in the reader for frames()


def _reason(exc):
    text = str(exc) or ""
    return "%s%s" % (exc.__class__.__name__, ": " + text[:80] if text else "")


class Counter(dict):
    """Reason -> count, keeping at most MAX_REASONS distinct reasons."""

    def add(self, reason, count=1):
        if reason in self or len(self) < MAX_REASONS:
            self[reason] = self.get(reason, 0) + count
        else:
            self["other"] = self.get("other", 0) + count


# --- hold ----------------------------------------------------------------------------------------


class Hold:
    """State of a hold run: counters, and the open connections."""

    def __init__(self, opts):
        self.opts = opts
        self.open = set()
        self.attempted = self.opened = self.failed = self.dropped = 0
        self.handshake_errors, self.drop_reasons = Counter(), Counter()
        self.handshake_ms = []
        self.ending = False

    async def one(self):
        """Open one connection and hold it until the end (or until it drops)."""
        self.attempted += 1
        started = time.monotonic()
        try:
            conn = await asyncio.wait_for(connect(self.opts.url, self.opts, self.opts.source), self.opts.timeout)
        except Exception as exc:  # any handshake failure is counted: --hold-for waits for them all
            self.failed += 1
            self.handshake_errors.add(_reason(exc))
            return
        self.handshake_ms.append((time.monotonic() - started) * 1000)
        self.opened += 1
        self.open.add(conn)
        try:
            async for _frame in conn.frames():
                pass
        except (OSError, wsclient.Closed) as exc:
            if not self.ending:
                self.dropped += 1
                self.drop_reasons.add(_reason(exc))
                conn.dropped = True  # counted here, not again by the final check
                conn.close()  # its socket, not kept open until the process ends
        self.open.discard(conn)

    async def ticks(self):
        while True:
            emit({"kind": "tick", "t": round(time.time(), 3), "open": len(self.open), "attempted": self.attempted,
                  "failed": self.failed, "dropped": self.dropped})
            await asyncio.sleep(1.0 - time.time() % 1.0)

    async def final_check(self):
        """Ping every open connection; returns how many answered within --timeout."""
        async def ping(conn):
            token = os.urandom(8)
            waiter = asyncio.get_running_loop().create_future()
            conn.pongs[token] = waiter
            try:
                conn.send(wsclient.OP_PING, token)
                await asyncio.wait_for(waiter, self.opts.timeout)
                return True
            except (OSError, RuntimeError, asyncio.TimeoutError):
                return False

        conns = list(self.open)
        answers = await asyncio.gather(*(ping(conn) for conn in conns))
        return conns, sum(answers)


async def hold(opts):
    state = Hold(opts)
    ticker = asyncio.create_task(state.ticks())
    await asyncio.sleep(max(0.0, opts.start_at - time.time()))
    tasks = []
    started = time.time()
    for i in range(opts.count):
        await asyncio.sleep(max(0.0, started + i / opts.rate - time.time()))
        tasks.append(asyncio.create_task(state.one()))
    ramp_done = time.time()
    if opts.hold_for is not None:
        # from the moment every handshake has ended (opened or failed), however long the ramp took
        while state.opened + state.failed < opts.count:
            await asyncio.sleep(0.05)
        settled = time.time()
        await asyncio.sleep(opts.hold_for)
    else:
        await asyncio.sleep(max(0.0, opts.hold_until - time.time()))
        settled = None
    held_before_check = len(state.open)
    conns, answered = await state.final_check()
    state.ending = True
    # a connection that closed during the check was counted as it dropped
    unanswered = len([conn for conn in conns if not conn.dropped]) - answered
    state.dropped += unanswered
    if unanswered:
        state.drop_reasons.add("no pong to the final ping", unanswered)
    for conn in conns:
        conn.close()
    await asyncio.sleep(0.5)
    ticker.cancel()
    for task in tasks:
        task.cancel()
    latencies = sorted(state.handshake_ms)
    return {
        "kind": "result", "source": opts.source, "count": opts.count, "attempted": state.attempted,
        "opened": state.opened, "failed_handshakes": state.failed, "dropped": state.dropped,
        "held_at_end": answered, "open_before_check": held_before_check,
        "handshake_errors": state.handshake_errors, "drop_reasons": state.drop_reasons,
        "ramp_s": round(ramp_done - started, 1),
        "settled_s": round(settled - started, 1) if settled is not None else None,
        "handshake_ms_p50": _pct(latencies, 50), "handshake_ms_p99": _pct(latencies, 99),
    }


# --- broadcast -----------------------------------------------------------------------------------


async def _subscriber(conn, received, arrived):
    """Record (seq -> arrival) of every chat message this subscriber gets. The arrival is when the
    bytes completing the frame were read, taken before any decoding or parsing: with 1,000
    sockets in one event loop, the reader's own work does not count as delivery latency."""
    try:
        async for opcode, payload in conn.frames():
            arrived_at = conn.read_at
            if opcode != wsclient.OP_TEXT:
                continue
            data = json.loads(payload)
            if data.get("type") == "message" and str(data.get("message", "")).startswith("bench:"):
                seq = int(data["message"].split(":")[1])
                received.setdefault(seq, arrived_at)
                arrived.set()
    except (OSError, wsclient.Closed):
        pass


async def _hello(conn, timeout):
    async def first_text():
        async for opcode, payload in conn.frames():
            if opcode == wsclient.OP_TEXT:
                return json.loads(payload)
        return {}

    return await asyncio.wait_for(first_text(), timeout)


async def _join(opts, source=None):
    """One connection to the chat room, once its hello came: (connection, pid of its Daphne process)."""
    conn = await asyncio.wait_for(connect(opts.url, opts, source), opts.timeout)
    return conn, str((await _hello(conn, opts.timeout)).get("pid"))


class Subscribers:
    """Subscribers of one process: each reads its socket from the moment it joined, as a real
    client does, so it answers the server's pings however long the room takes to fill (10,000 at
    200 a second take 50 s, and Daphne aborts a connection that leaves its ping unanswered for
    ping_interval + ping_timeout, 20 + 30 s)."""

    def __init__(self, opts):
        self.opts = opts
        self.subs, self.received, self.readers, self.pids = [], [], [], {}
        self.arrived = asyncio.Event()

    async def join(self, count=None, rate=None, batch=None, source=None):
        """``count`` subscribers (--subscribers), ``batch`` (--connect-batch) at a time opened
        concurrently (as real clients arrive, so the kernel hands them to every Daphne process, not
        to whichever accepts sequential connects first), a batch started at most every
        batch/``rate`` (--connect-rate) seconds: {pid: count}."""
        count, rate = count or self.opts.subscribers, rate or self.opts.connect_rate
        batch = batch or self.opts.connect_batch
        started = time.monotonic()
        for first in range(0, count, batch):
            await asyncio.sleep(max(0.0, started + first / rate - time.monotonic()))
            size = min(batch, count - first)
            for conn, pid in await asyncio.gather(*(_join(self.opts, source) for _i in range(size))):
                got = {}
                self.subs.append(conn)
                self.received.append(got)
                self.readers.append(asyncio.create_task(_subscriber(conn, got, self.arrived)))
                self.pids[pid] = self.pids.get(pid, 0) + 1
        return self.pids

    async def collect(self, deadline):
        """Per subscriber {seq: arrival}, once every message arrived or at the monotonic ``deadline``."""
        await _until_delivered(self.received, self.arrived, len(self.subs) * self.opts.messages, deadline)
        for task in self.readers:
            task.cancel()
        for conn in self.subs:
            conn.close()
        return self.received


async def _until_delivered(received, arrived, expected, deadline):
    """Wait until ``received`` (per subscriber {seq: arrival}) holds ``expected`` deliveries, or
    until the monotonic ``deadline``."""
    while sum(len(got) for got in received) < expected and time.monotonic() < deadline:
        arrived.clear()
        try:
            await asyncio.wait_for(arrived.wait(), max(0.01, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break


def _shares(total, parts):
    """``total`` split into ``parts`` counts differing by at most one."""
    return [total // parts + (index < total % parts) for index in range(parts)]


def _child(pipe, opts, index, count):
    """A subscriber process: join ``count`` subscribers from 127.0.0.<index + 2>, say so, read
    until the parent's deadline (or every message arrived), hand the arrivals over."""
    async def work():
        subscribers = Subscribers(opts)
        pids = await subscribers.join(count, opts.connect_rate / opts.processes,
                                      max(1, opts.connect_batch // opts.processes), "127.0.0.%d" % (index + 2))
        pipe.send(("joined", pids))
        deadline = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # reading goes on meanwhile
        pipe.send(("received", await subscribers.collect(deadline)))

    try:
        asyncio.run(work())
    except (OSError, RuntimeError, ValueError, asyncio.TimeoutError, wsclient.Closed) as exc:
        pipe.send(("error", _reason(exc)))


class Spread:
    """Subscribers read by --processes child processes, forked before any event loop runs."""

    def __init__(self, opts):
        self.opts = opts
        context = multiprocessing.get_context("fork")
        self.pipes, self.procs = [], []
        for index, count in enumerate(_shares(opts.subscribers, opts.processes)):
            parent, child = context.Pipe()
            proc = context.Process(target=_child, args=(child, opts, index, count), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    async def _each(self, kind):
        """Every child's next message, which must be of ``kind``: their payloads."""
        loop = asyncio.get_running_loop()
        said = await asyncio.gather(*(loop.run_in_executor(None, pipe.recv) for pipe in self.pipes))
        for got, payload in said:
            if got != kind:
                raise RuntimeError("subscriber process: %s" % payload)
        return [payload for _got, payload in said]

    async def join(self):
        pids = {}
        for part in await self._each("joined"):
            for pid, count in part.items():
                pids[pid] = pids.get(pid, 0) + count
        return pids

    async def collect(self, deadline):
        for pipe in self.pipes:
            pipe.send(deadline)
        received = [got for part in await self._each("received") for got in part]
        for proc in self.procs:
            proc.join(5)
        return received


async def broadcast(opts, readers=None):
    readers = readers or Subscribers(opts)  # read here, or by --processes children (Spread)
    pids = await readers.join()
    sender, _pid = await _join(opts)
    drain = asyncio.create_task(_subscriber(sender, {}, asyncio.Event()))
    await asyncio.sleep(1.0)  # every group_add has long been done (each waited for its hello)
    sent_at = {}
    first = time.monotonic()
    for seq in range(opts.messages):
        await asyncio.sleep(max(0.0, first + seq / opts.rate - time.monotonic()))
        sent_at[seq] = time.monotonic()
        sender.send(wsclient.OP_TEXT, ("bench:%d" % seq).encode())
    received = await readers.collect(time.monotonic() + opts.timeout)
    drain.cancel()
    sender.close()
    return {
        "kind": "result", "subscribers": opts.subscribers, "messages": opts.messages, "rate": opts.rate,
        "connect_batch": opts.connect_batch, "processes": opts.processes, "subscribers_per_pid": pids,
        **broadcast_figures(sent_at, received, opts.subscribers),
    }


def broadcast_figures(sent_at, received, subscribers):
    """The figures of a broadcast run. ``sent_at``: {seq: send time}; ``received``: per subscriber,
    {seq: arrival time} (times in seconds, one clock; arrivals of a seq not sent are ignored);
    ``subscribers``: how many there were, each meant to get every message.

    Per delivery: arrival minus send. Per message: the time until its last subscriber had it, over
    the messages every subscriber got; the others are counted in messages_incomplete (and are None
    in message_ms_by_seq, which lists every message in sending order). deliveries_per_s: every
    delivery over the time from the first send to the last arrival."""
    delivery_ms, by_seq = [], []
    incomplete = delivered = 0
    last = first = min(sent_at.values(), default=0.0)
    for seq, sent in sorted(sent_at.items()):
        arrivals = [got[seq] for got in received if seq in got]
        delivered += len(arrivals)
        delivery_ms.extend((at - sent) * 1000 for at in arrivals)
        last = max([last] + arrivals)
        complete = bool(arrivals) and len(arrivals) >= subscribers
        incomplete += len(arrivals) < subscribers
        by_seq.append((max(arrivals) - sent) * 1000 if complete else None)
    expected = subscribers * len(sent_at)
    return {
        "expected": expected, "delivered": delivered, "lost": expected - delivered,
        "deliveries_per_s": round(delivered / max(last - first, 1e-6), 1),
        "delivery_ms": _summary(delivery_ms),
        "message_ms": _summary([value for value in by_seq if value is not None]),
        "messages_incomplete": incomplete,
        "message_ms_by_seq": [None if value is None else round(value, 1) for value in by_seq],
    }


# --- common --------------------------------------------------------------------------------------


def _pct(values, pct):
    """The pct-th percentile of sorted ``values`` (nearest rank), rounded; None when empty."""
    if not values:
        return None
    return round(values[min(len(values) - 1, max(0, math.ceil(pct / 100 * len(values)) - 1))], 1)


def _summary(values):
    """{"p50", "p99", "max"} of ``values`` (any order), nearest rank, rounded; None values when empty."""
    values = sorted(values)
    return {"p50": _pct(values, 50), "p99": _pct(values, 99), "max": _pct(values, 100)}


def emit(obj):
    print(json.dumps(obj, sort_keys=True), flush=True)


def parse_args(argv):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("url")
    common.add_argument("--host-header")
    common.add_argument("--origin")
    common.add_argument("--timeout", type=float, default=15.0)
    common.add_argument("--insecure", action="store_true", help="wss: do not verify the server's certificate")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    hold_cmd = sub.add_parser("hold", parents=[common])
    hold_cmd.add_argument("--count", type=int, required=True)
    hold_cmd.add_argument("--rate", type=float, required=True, help="new connections per second")
    hold_cmd.add_argument("--start-at", type=float, default=0.0, help="epoch seconds to start the ramp at")
    until = hold_cmd.add_mutually_exclusive_group(required=True)
    until.add_argument("--hold-until", type=float, help="epoch seconds of the final check")
    until.add_argument("--hold-for", type=float,
                       help="seconds from the end of the last handshake (however slow the ramp) to the final check")
    hold_cmd.add_argument("--source", help="local address to connect from (e.g. 127.0.0.2)")
    cast = sub.add_parser("broadcast", parents=[common])
    cast.add_argument("--subscribers", type=int, default=1000)
    cast.add_argument("--connect-rate", type=float, default=200.0, help="subscribers per second at most")
    cast.add_argument("--connect-batch", type=int, default=50, help="subscribers connecting concurrently")
    cast.add_argument("--messages", type=int, default=200)
    cast.add_argument("--rate", type=float, default=2.0, help="messages sent per second")
    cast.add_argument("--processes", type=int, default=1,
                      help="processes reading the subscribers (each from its own source address)")
    return parser.parse_args(argv)


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        if opts.command == "hold":
            result = asyncio.run(hold(opts))
        else:  # the subscriber processes are forked before this process runs an event loop
            result = asyncio.run(broadcast(opts, Spread(opts) if opts.processes > 1 else None))
    except (OSError, RuntimeError, ValueError, asyncio.TimeoutError, wsclient.Closed) as exc:
        result = {"kind": "result", "error": _reason(exc)}
    result["nofile"] = [soft, hard]
    emit(result)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
