"""The benchmark's WebSocket load generator (scripts/bench/wsload.py) against stub servers.

wsload's real ``hold()`` and ``broadcast()`` coroutines run against small WebSocket servers started
here on 127.0.0.1 (an ephemeral port): a healthy one, ones that close or refuse, a silent one, and a
chat room whose fan-out can be slowed down or lose a message; the figures are checked against what
each stub did. The pure computations (``broadcast_figures``, ``_pct``) are checked on hand-made data.
"""

import asyncio
import datetime
import importlib.util
import json
import pathlib
import ssl
import struct
import sys
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
WSCLIENT_DIR = ROOT / "molecule" / "shared" / "files"


def _load_wsload():
    if str(WSCLIENT_DIR) not in sys.path:
        sys.path.insert(0, str(WSCLIENT_DIR))  # wsload imports wsclient, in the container its neighbour
    spec = importlib.util.spec_from_file_location("bench_wsload", ROOT / "scripts" / "bench" / "wsload.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wsload = _load_wsload()
wsclient = wsload.wsclient

TIMEOUT = 0.5  # --timeout: the handshake, the final ping, the wait for the last deliveries


# --- stub servers ----------------------------------------------------------------------------------


class Peer:
    """The server's side of one connection: handshake, unmasked frames out, masked frames in."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.buffer = b""  # for wsclient.WebSocket._frame_from_buffer (it unmasks the client's frames)
        self.key = None

    async def read_request(self):
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        for line in head.split("\r\n")[1:]:
            name, _sep, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-key":
                self.key = value.strip()

    def accept(self):
        self.writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: %s\r\n\r\n" % wsclient.accept_key(self.key)).encode())

    def refuse(self, status, reason):
        self.writer.write(("HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                           % (status, reason)).encode())

    def send(self, opcode, payload=b""):
        if self.writer.is_closing():
            return
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, length)
        else:
            header = struct.pack("!BBH", 0x80 | opcode, 126, length)
        self.writer.write(header + payload)

    def send_json(self, obj):
        self.send(wsclient.OP_TEXT, json.dumps(obj).encode())

    async def frames(self):
        """(opcode, payload) of every frame the client sends, until its close frame or EOF."""
        while True:
            frame = wsclient.WebSocket._frame_from_buffer(self)
            if frame is None:
                chunk = await self.reader.read(65536)
                if not chunk:
                    return
                self.buffer += chunk
                continue
            _fin, opcode, payload = frame
            if opcode == wsclient.OP_CLOSE:
                return
            yield opcode, payload


class StubServer:
    """``async with StubServer(handler) as url``: a server on 127.0.0.1 calling ``await handler(peer)``
    for every connection once its request head is read; the connection is closed when it returns."""

    def __init__(self, handler, tls=None):
        self.handler = handler
        self.server = None
        self.tls = tls  # an ssl.SSLContext: the server speaks wss://

    async def _serve(self, reader, writer):
        peer = Peer(reader, writer)
        try:
            await peer.read_request()
            await self.handler(peer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return "%s://127.0.0.1:%d/ws/" % ("wss" if self.tls else "ws", self.server.sockets[0].getsockname()[1])

    async def __aexit__(self, *exc_info):
        self.server.close()


async def healthy(peer):
    """Accept, answer pings with pongs, until the client closes."""
    peer.accept()
    async for opcode, payload in peer.frames():
        if opcode == wsclient.OP_PING:
            peer.send(wsclient.OP_PONG, payload)


async def close_frame(peer):
    """Accept, then close at once with a close frame (1001 going away)."""
    peer.accept()
    peer.send(wsclient.OP_CLOSE, struct.pack("!H", 1001) + b"bye")


async def plain_eof(peer):
    """Accept, then close the TCP connection at once (no close frame)."""
    peer.accept()


async def silent(peer):
    """Accept and keep the connection, but answer nothing (not even the final ping)."""
    peer.accept()
    async for _frame in peer.frames():
        pass


async def forbidden(peer):
    """Refuse the handshake (as an Origin check would)."""
    peer.refuse(403, "Forbidden")


class ChatRoom:
    """The sample app's chat consumer, as far as wsload's broadcast sees it: a hello with the
    process's pid on connect, then every "bench:N" any client sends fanned out to every client.
    ``slow``: {seq: seconds} its fan-out is delayed by; ``drop``: {(client index, seq)} never sent,
    clients numbered in the order they connected (wsload's subscribers first, its sender last)."""

    PIDS = ("101", "102")

    def __init__(self, slow=None, drop=(), ping_timeout=None):
        self.slow, self.drop = slow or {}, set(drop)
        self.ping_timeout = ping_timeout  # pings each client after its hello, drops it without a pong (Daphne)
        self.peers = []
        self.tasks = set()

    async def _ping(self, peer, ponged):
        peer.send(wsclient.OP_PING, b"are-you-there")
        try:
            await asyncio.wait_for(ponged.wait(), self.ping_timeout)
        except asyncio.TimeoutError:
            self.peers.remove(peer)
            peer.writer.close()

    async def __call__(self, peer):
        peer.accept()
        peer.send_json({"type": "hello", "pid": int(self.PIDS[len(self.peers) % len(self.PIDS)])})
        self.peers.append(peer)
        ponged = asyncio.Event()
        if self.ping_timeout is not None:
            task = asyncio.create_task(self._ping(peer, ponged))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        async for opcode, payload in peer.frames():
            if opcode == wsclient.OP_PONG:
                ponged.set()
            elif opcode == wsclient.OP_PING:
                peer.send(wsclient.OP_PONG, payload)
            elif opcode == wsclient.OP_TEXT:
                text = payload.decode()
                seq = int(text.split(":")[1])
                task = asyncio.create_task(self.fan_out(seq, text))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def fan_out(self, seq, text):
        if seq in self.slow:
            await asyncio.sleep(self.slow[seq])
        for index, peer in enumerate(self.peers):
            if (index, seq) not in self.drop:
                peer.send_json({"type": "message", "message": text})


# --- running wsload --------------------------------------------------------------------------------


def run_hold(handler, count=4, hold_s=0.3, tls=None, options=(), hold_for=None):
    """wsload hold's result against a stub: ``count`` connections, the final check ``hold_s`` from now
    (or ``hold_for`` seconds after the last handshake)."""
    async def main():
        async with StubServer(handler, tls) as url:
            until = ["--hold-for", str(hold_for)] if hold_for is not None else ["--hold-until", str(time.time() + hold_s)]
            opts = wsload.parse_args(["hold", url, "--count", str(count), "--rate", "1000", "--timeout", str(TIMEOUT)]
                                     + until + list(options))
            return await wsload.hold(opts)

    return asyncio.run(main())


def run_broadcast(room, subscribers=3, messages=20, connect_rate=1000):
    """wsload broadcast's result against a ChatRoom stub (100 messages a second)."""
    async def main():
        async with StubServer(room) as url:
            opts = wsload.parse_args(["broadcast", url, "--subscribers", str(subscribers), "--messages", str(messages),
                                      "--rate", "100", "--connect-batch", "2", "--connect-rate", str(connect_rate),
                                      "--timeout", str(TIMEOUT)])
            return await wsload.broadcast(opts)

    return asyncio.run(main())


def run_spread_broadcast(room, subscribers=6, messages=20, processes=3):
    """wsload broadcast with --processes: the subscriber processes are forked before this test's
    event loop runs, as wsload's main() does, so the stub serves from a thread of its own."""
    loop = asyncio.new_event_loop()
    ready, box = threading.Event(), {}

    def serve():
        asyncio.set_event_loop(loop)
        box["server"] = StubServer(room)
        box["url"] = loop.run_until_complete(box["server"].__aenter__())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        opts = wsload.parse_args(["broadcast", box["url"], "--subscribers", str(subscribers), "--messages",
                                  str(messages), "--rate", "100", "--connect-batch", "3", "--connect-rate", "1000",
                                  "--timeout", str(TIMEOUT), "--processes", str(processes)])
        return asyncio.run(wsload.broadcast(opts, wsload.Spread(opts)))
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


SLOW_SEQ, SLOW_S = 7, 0.3


@pytest.fixture(scope="module")
def healthy_broadcast():
    return run_broadcast(ChatRoom())


@pytest.fixture(scope="module")
def slow_broadcast():
    return run_broadcast(ChatRoom(slow={SLOW_SEQ: SLOW_S}))


# --- hold ------------------------------------------------------------------------------------------


def test_hold_against_a_healthy_server_holds_every_connection():
    result = run_hold(healthy)
    assert result["kind"] == "result"
    assert (result["opened"], result["failed_handshakes"], result["dropped"]) == (4, 0, 0)
    assert result["held_at_end"] == result["open_before_check"] == 4
    assert result["drop_reasons"] == {} and result["handshake_errors"] == {}
    assert result["handshake_ms_p50"] is not None


@pytest.mark.parametrize("handler,reason", [
    (close_frame, "Closed: close 1001 bye"),
    (plain_eof, "Closed: EOF"),
])
def test_hold_counts_connections_the_server_closes_as_dropped(handler, reason):
    result = run_hold(handler)
    assert (result["opened"], result["failed_handshakes"]) == (4, 0)
    assert result["dropped"] == 4
    assert result["drop_reasons"] == {reason: 4}
    assert result["held_at_end"] == result["open_before_check"] == 0


def test_hold_counts_every_connection_silent_at_the_final_ping():
    result = run_hold(silent)
    assert result["opened"] == result["open_before_check"] == 4
    assert result["dropped"] == 4
    assert result["drop_reasons"] == {"no pong to the final ping": 4}  # one per connection, not once
    assert result["held_at_end"] == 0


def test_hold_counts_refused_handshakes_with_their_status():
    result = run_hold(forbidden)
    assert (result["attempted"], result["opened"], result["failed_handshakes"]) == (4, 0, 4)
    assert result["handshake_errors"] == {"RuntimeError: HTTP 403": 4}
    assert result["dropped"] == result["held_at_end"] == 0


@pytest.mark.parametrize("payload,reason", [
    (b"", "close (no code)"),
    (struct.pack("!H", 1000), "close 1000"),
    (struct.pack("!H", 1011) + b"server error", "close 1011 server error"),
])
def test_close_reason_names_the_code_and_text(payload, reason):
    assert wsload._close_reason(payload) == reason


def test_reasons_counter_adds_a_count_and_caps_distinct_reasons():
    counter = wsload.Counter()
    counter.add("a", 3)
    counter.add("a")
    for index in range(wsload.MAX_REASONS + 2):
        counter.add("r%d" % index, 2)
    assert counter["a"] == 4
    assert len(counter) == wsload.MAX_REASONS + 1  # the cap, plus "other"
    assert counter["other"] == 2 * 3  # the 3 reasons past the cap, each counted twice


# --- broadcast -------------------------------------------------------------------------------------


def test_broadcast_against_a_healthy_room_loses_nothing(healthy_broadcast):
    result = healthy_broadcast
    assert (result["expected"], result["delivered"], result["lost"]) == (60, 60, 0)
    assert result["messages_incomplete"] == 0
    assert result["subscribers_per_pid"] == {"101": 2, "102": 1}
    assert len(result["message_ms_by_seq"]) == 20 and None not in result["message_ms_by_seq"]
    for figures in (result["delivery_ms"], result["message_ms"]):
        assert set(figures) == {"p50", "p99", "max"}
        assert 0 <= figures["p50"] <= figures["p99"] <= figures["max"]
    assert result["message_ms"]["max"] == max(result["message_ms_by_seq"])
    assert result["deliveries_per_s"] > 0


def test_broadcast_result_has_the_keys_the_harness_reads(healthy_broadcast):
    assert set(healthy_broadcast) == {
        "kind", "subscribers", "messages", "rate", "connect_batch", "processes", "subscribers_per_pid", "expected",
        "delivered", "lost", "deliveries_per_s", "delivery_ms", "message_ms", "messages_incomplete",
        "message_ms_by_seq"}


def test_one_slow_message_shows_in_the_message_p99_and_max(slow_broadcast):
    result = slow_broadcast
    slow_ms = SLOW_S * 1000
    assert result["lost"] == 0 and result["messages_incomplete"] == 0
    assert result["message_ms_by_seq"][SLOW_SEQ] >= slow_ms
    assert result["message_ms"]["max"] == result["message_ms_by_seq"][SLOW_SEQ]
    assert result["message_ms"]["p99"] == result["message_ms"]["max"]  # 20 messages: the p99 is the slowest
    assert result["message_ms"]["p50"] < slow_ms / 3
    assert result["delivery_ms"]["max"] >= slow_ms


def test_without_the_slow_message_the_message_p99_is_well_below_it(healthy_broadcast, slow_broadcast):
    assert healthy_broadcast["message_ms"]["p99"] < slow_broadcast["message_ms"]["p99"] / 3


def test_a_message_one_subscriber_never_got_is_lost_and_incomplete():
    result = run_broadcast(ChatRoom(drop={(0, 5)}))
    assert (result["expected"], result["delivered"], result["lost"]) == (60, 59, 1)
    assert result["messages_incomplete"] == 1
    by_seq = result["message_ms_by_seq"]
    assert by_seq[5] is None
    assert all(value is not None for seq, value in enumerate(by_seq) if seq != 5)
    assert result["message_ms"]["max"] == max(value for value in by_seq if value is not None)


def test_subscribers_answer_pings_while_the_room_fills():
    """A room that takes longer to fill than the server waits for a pong (as 10,000 subscribers
    take 50 s against Daphne's 20 + 30 s): the first subscribers answer their pings while the
    others join, so none is dropped and every one gets every message."""
    result = run_broadcast(ChatRoom(ping_timeout=0.2), subscribers=8, connect_rate=10)  # 0.8 s to fill
    assert (result["expected"], result["delivered"], result["lost"]) == (160, 160, 0)


def test_subscribers_spread_over_processes_get_every_message():
    result = run_spread_broadcast(ChatRoom())
    assert result["processes"] == 3
    assert (result["expected"], result["delivered"], result["lost"]) == (120, 120, 0)
    assert sum(result["subscribers_per_pid"].values()) == 6 and set(result["subscribers_per_pid"]) == set(ChatRoom.PIDS)


def test_subscribers_spread_over_processes_time_arrivals_on_the_senders_clock():
    """The children's arrival times and the parent's send times are one clock: a fan-out delayed
    0.3 s shows as that message's latency, and the others stay far below it."""
    result = run_spread_broadcast(ChatRoom(slow={SLOW_SEQ: SLOW_S}))
    assert result["message_ms_by_seq"][SLOW_SEQ] >= SLOW_S * 1000
    assert 0 <= result["message_ms"]["p50"] < SLOW_S * 1000 / 3


def test_subscribers_shared_out_evenly():
    assert wsload._shares(10, 4) == [3, 3, 2, 2]
    assert wsload._shares(10000, 4) == [2500] * 4


# --- figures ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("values,pct,expected", [
    ([], 50, None),
    ([7.0], 50, 7.0),
    ([7.0], 99, 7.0),
    ([1.0, 2.0], 50, 1.0),
    ([1.0, 2.0], 99, 2.0),
    ([float(v) for v in range(1, 11)], 50, 5.0),
    ([float(v) for v in range(1, 11)], 99, 10.0),
    ([float(v) for v in range(1, 101)], 99, 99.0),   # 100 values: the p99 is not the max
    ([float(v) for v in range(1, 201)], 99, 198.0),  # 200 values: the third largest
    ([float(v) for v in range(1, 11)], 100, 10.0),
    ([0.04, 1.06], 99, 1.1),                         # rounded to 0.1
])
def test_pct_is_the_nearest_rank(values, pct, expected):
    assert wsload._pct(values, pct) == expected


def test_broadcast_figures_per_delivery_and_per_message():
    sent_at = {0: 10.0, 1: 11.0, 2: 12.0}
    received = [{0: 10.010, 1: 11.020, 2: 12.005},
                {0: 10.030, 1: 11.500}]  # the second subscriber never got message 2
    figures = wsload.broadcast_figures(sent_at, received, 2)
    assert (figures["expected"], figures["delivered"], figures["lost"]) == (6, 5, 1)
    assert figures["delivery_ms"] == {"p50": 20.0, "p99": 500.0, "max": 500.0}  # of 5, 10, 20, 30, 500
    assert figures["message_ms_by_seq"] == [30.0, 500.0, None]
    assert figures["message_ms"] == {"p50": 30.0, "p99": 500.0, "max": 500.0}
    assert figures["messages_incomplete"] == 1
    assert figures["deliveries_per_s"] == round(5 / 2.005, 1)


def test_broadcast_figures_one_slow_message_among_many_deliveries():
    """The issue's case: 100 messages to 1,000 subscribers, one of them slow. Per delivery, the
    nearest-rank p99 is exactly the top 1% (one message's deliveries): it cannot show; per
    message, the max does."""
    sent_at = {seq: float(seq) for seq in range(100)}
    received = [{seq: seq + (0.5 if seq == 42 else 0.01) for seq in range(100)} for _sub in range(1000)]
    figures = wsload.broadcast_figures(sent_at, received, 1000)
    assert figures["delivery_ms"]["p99"] == 10.0 and figures["delivery_ms"]["max"] == 500.0
    assert figures["message_ms"]["max"] == 500.0 and figures["message_ms_by_seq"][42] == 500.0


def test_broadcast_figures_of_nothing_delivered_are_none():
    figures = wsload.broadcast_figures({0: 1.0, 1: 2.0}, [{}, {}], 2)
    assert (figures["expected"], figures["delivered"], figures["lost"]) == (4, 0, 4)
    assert figures["delivery_ms"] == figures["message_ms"] == {"p50": None, "p99": None, "max": None}
    assert figures["messages_incomplete"] == 2
    assert figures["message_ms_by_seq"] == [None, None]
    assert figures["deliveries_per_s"] == 0.0


def test_broadcast_figures_of_no_message_are_empty():
    figures = wsload.broadcast_figures({}, [{}], 1)
    assert (figures["expected"], figures["delivered"], figures["lost"], figures["messages_incomplete"]) == (0, 0, 0, 0)
    assert figures["message_ms"] == {"p50": None, "p99": None, "max": None}
    assert figures["message_ms_by_seq"] == []


def test_broadcast_options_default_to_200_messages_at_2_per_second():
    opts = wsload.parse_args(["broadcast", "ws://127.0.0.1/ws/chat/bench/"])
    assert (opts.messages, opts.rate) == (200, 2.0)


@pytest.fixture(scope="module")
def server_tls(tmp_path_factory):
    """A TLS server context with a self-signed certificate for www.example.com."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.example.com")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("www.example.com")]), critical=False)
            .sign(key, hashes.SHA256()))
    directory = tmp_path_factory.mktemp("tls")
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


def test_hold_over_tls_with_insecure_holds_every_connection(server_tls):
    result = run_hold(healthy, tls=server_tls, options=["--insecure", "--host-header", "www.example.com"], hold_for=0.2)
    assert (result["opened"], result["failed_handshakes"], result["dropped"], result["held_at_end"]) == (4, 0, 0, 4)


def test_hold_over_tls_verifies_the_certificate_unless_insecure(server_tls):
    result = run_hold(healthy, tls=server_tls, options=["--host-header", "www.example.com"], hold_for=0.2)
    assert (result["opened"], result["failed_handshakes"]) == (0, 4)
    assert all("SSLCertVerificationError" in reason for reason in result["handshake_errors"]), result


def test_hold_for_holds_from_the_last_handshake_however_slow_the_ramp():
    async def main():
        async with StubServer(healthy) as url:
            opts = wsload.parse_args(["hold", url, "--count", "4", "--rate", "10", "--hold-for", "0.3",
                                      "--timeout", str(TIMEOUT)])
            started = time.monotonic()
            result = await wsload.hold(opts)
            return result, time.monotonic() - started

    result, took = asyncio.run(main())
    assert (result["opened"], result["dropped"], result["held_at_end"]) == (4, 0, 4)
    # the ramp (4 at 10/s) ends at 0.3 s, the hold 0.3 s after the last handshake
    # settled_s is rounded to 0.1 s
    assert result["settled_s"] >= 0.25 and took >= result["settled_s"] + 0.3 - 0.05, (result, took)


def test_hold_needs_one_end_of_the_hold():
    with pytest.raises(SystemExit):
        wsload.parse_args(["hold", "ws://127.0.0.1/", "--count", "1", "--rate", "1"])
