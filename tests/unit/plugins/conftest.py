"""A real WebSocket server on loopback, in a thread, for the probe's unit tests.

Written here with the standard library, independently of plugins/module_utils/websocket.py, so
the client is tested against bytes it did not produce itself. The request path picks the
behaviour:

- ``/echo``        sends every text message back unchanged (picks the first offered subprotocol)
- ``/broadcast``   sends every text message to every connected ``/broadcast`` client
- ``/greet``       sends ``welcome`` right after the handshake, then echoes
- ``/ping``        answers a message with a ping; once the matching pong arrives, replies
                   ``pong seen: <text>`` in three fragments with a ping in between
- ``/close``       answers a message with a close frame (1008, ``not allowed``)
- ``/forbidden``   refuses the handshake: 403 with a short body
- ``/bad-accept``  answers 101 with a wrong Sec-WebSocket-Accept
- ``/bad-proto``   answers 101 choosing a subprotocol nobody offered
- ``/binary``      answers a message with a binary message, then with the text echo

Every request's headers are recorded in ``server.requests`` (dicts, lower-case names, plus
``:target``, the request target with its query string); a client
frame that is not masked is recorded in ``server.errors``.
"""

import base64
import hashlib
import socket
import socketserver
import ssl
import struct
import threading

import pytest

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def server_accept(key):
    """Sec-WebSocket-Accept for ``key``, computed the server's way."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + WS_GUID).digest()).decode("ascii")


def server_frame(opcode, payload, fin=True):
    """An unmasked server frame."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    size = len(payload)
    first = bytes([(0x80 if fin else 0) | opcode])
    if size <= 125:
        return first + bytes([size]) + payload
    if size <= 0xFFFF:
        return first + bytes([126]) + struct.pack(">H", size) + payload
    return first + bytes([127]) + struct.pack(">Q", size) + payload


class Handler(socketserver.BaseRequestHandler):
    """One client connection."""

    def setup(self):
        self.buf = b""
        self.path = None

    def _read(self):
        data = self.request.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def _read_exact(self, size):
        while len(self.buf) < size:
            self._read()
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def read_frame(self):
        """(fin, opcode, payload) of the next client frame; records unmasked frames."""
        first, second = self._read_exact(2)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack(">H", self._read_exact(2))[0]
        elif size == 127:
            size = struct.unpack(">Q", self._read_exact(8))[0]
        if not second & 0x80:
            self.server.errors.append("unmasked client frame")
            key = b"\0\0\0\0"
        else:
            key = self._read_exact(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(self._read_exact(size)))
        return bool(first & 0x80), first & 0x0F, payload

    def read_message(self):
        """The next text message, or None once the client closes."""
        parts = []
        while True:
            fin, opcode, payload = self.read_frame()
            if opcode == 0x8:
                self.send(server_frame(0x8, payload[:2]))
                return None
            if opcode in (0x9, 0xA):
                continue
            parts.append(payload)
            if fin:
                return b"".join(parts).decode("utf-8")

    def send(self, data):
        with self.server.lock:
            self.request.sendall(data)

    def handshake(self):
        while b"\r\n\r\n" not in self.buf:
            self._read()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        target = lines[0].split(" ")[1]
        self.path = target.split("?", 1)[0]
        headers = {":target": target}
        for line in lines[1:]:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        self.server.requests.append(headers)
        key = headers.get("sec-websocket-key", "")
        if self.path == "/forbidden":
            body = b"Access denied by origin validator\n"
            self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
            return False
        accept = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" if self.path == "/bad-accept" else server_accept(key)
        extra = ""
        offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
        if self.path == "/bad-proto":
            extra = "Sec-WebSocket-Protocol: surprise\r\n"
        elif offered:
            extra = "Sec-WebSocket-Protocol: %s\r\n" % offered[0]
        if self.path == "/broadcast":
            with self.server.lock:
                self.server.clients.append(self)
        response = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: %s\r\n%sServer: unit-test\r\n\r\n" % (accept, extra))
        self.send(response.encode("latin-1"))
        return True

    def handle(self):
        try:
            if not self.handshake():
                return
            if self.path == "/greet":
                self.send(server_frame(0x1, "welcome"))
            while True:
                text = self.read_message()
                if text is None:
                    return
                self.respond(text)
        except (EOFError, OSError):
            return
        finally:
            with self.server.lock:
                if self in self.server.clients:
                    self.server.clients.remove(self)

    def respond(self, text):
        if self.path == "/broadcast":
            with self.server.lock:
                clients = list(self.server.clients)
            for client in clients:
                client.send(server_frame(0x1, text))
        elif self.path == "/ping":
            self.send(server_frame(0x9, b"heartbeat"))
            _fin, opcode, payload = self.read_frame()
            if opcode != 0xA or payload != b"heartbeat":
                self.send(server_frame(0x1, "no pong"))
                return
            reply = ("pong seen: " + text).encode("utf-8")
            self.send(server_frame(0x1, reply[:4], fin=False))
            self.send(server_frame(0x9, b"again"))
            self.send(server_frame(0x0, reply[4:8], fin=False))
            self.send(server_frame(0x0, reply[8:], fin=True))
        elif self.path == "/close":
            self.send(server_frame(0x8, struct.pack(">H", 1008) + b"not allowed"))
        elif self.path == "/binary":
            self.send(server_frame(0x2, b"\x00\x01\x02"))
            self.send(server_frame(0x1, text))
        else:
            self.send(server_frame(0x1, text))


class Server(socketserver.ThreadingTCPServer):
    """Threaded loopback server; optionally TLS."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tls_context=None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.tls_context = tls_context
        self.lock = threading.RLock()
        self.clients = []
        self.requests = []
        self.errors = []

    def get_request(self):
        sock, address = super().get_request()
        if self.tls_context is not None:
            sock = self.tls_context.wrap_socket(sock, server_side=True)
        return sock, address

    @property
    def port(self):
        return self.server_address[1]

    def url(self, path, scheme="ws"):
        return "%s://127.0.0.1:%d%s" % (scheme, self.port, path)


def _start(tls_context=None):
    server = Server(tls_context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server


@pytest.fixture
def ws_server():
    """A plain (ws://) test server on 127.0.0.1."""
    server = _start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def test_certificate(tmp_path_factory):
    """A self-signed certificate for ``localhost`` (PEM paths: cert, key)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    import datetime
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture
def wss_server(test_certificate):
    """A TLS (wss://) test server on 127.0.0.1 with the self-signed ``localhost`` certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*test_certificate)
    server = _start(context)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
