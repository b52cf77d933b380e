#!/usr/bin/env python
"""A stand-in ASGI backend for the nginx scenario (standard library only).

Listens on 127.0.0.1:8000 like supervisor's fcgi-program socket would:
- plain HTTP/1.1 (keep-alive): answers JSON describing the request it received (method, path,
  headers) and the upstream TCP connection (id, how many requests it has carried), so tests see
  what nginx forwarded and whether nginx keeps upstream connections alive; a request header
  "X-Echo-Response-Header: Name: value" becomes a header of the answer (an app's own header);
- WebSocket (RFC 6455): completes the handshake, echoes text frames back, answers pings and
  close frames. It never pings by itself, so an idle connection stays really idle.
"""

import asyncio
import base64
import hashlib
import itertools
import json
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONNECTION_IDS = itertools.count(1)


async def read_frame(reader):
    first, second = await reader.readexactly(2)
    opcode, length = first & 0x0F, second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4) if second & 0x80 else b""
    payload = await reader.readexactly(length)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload


def frame(opcode, payload):
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


async def websocket(reader, writer, headers):
    accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest())
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    await writer.drain()
    while True:
        opcode, payload = await read_frame(reader)
        if opcode == 0x1:  # text: echo
            writer.write(frame(0x1, payload))
        elif opcode == 0x9:  # ping: pong
            writer.write(frame(0xA, payload))
        elif opcode == 0x8:  # close: answer and stop
            writer.write(frame(0x8, payload[:2]))
            await writer.drain()
            return
        await writer.drain()


async def handle(reader, writer):
    connection_id = next(CONNECTION_IDS)
    requests = 0
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
            method, target, version = request_line.split(" ", 2)
            headers = {}
            for line in lines:
                name, _sep, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if length:
                await reader.readexactly(length)
            requests += 1
            if headers.get("upgrade", "").lower() == "websocket":
                await websocket(reader, writer, headers)
                return
            body = json.dumps({
                "method": method,
                "path": target,
                "version": version,
                "headers": headers,
                "connection_id": connection_id,
                "connection_requests": requests,
            }, sort_keys=True).encode()
            close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
            # a header the app sets itself: "X-Echo-Response-Header: Name: value" in the request
            extra = headers.get("x-echo-response-header", "")
            extra_line = (extra + "\r\n").encode("latin-1") if extra else b""
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                b"%sConnection: %s\r\n\r\n" % (len(body), extra_line, b"close" if close else b"keep-alive") + body
            )
            await writer.drain()
            if close:
                return
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError, KeyError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 8000, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
