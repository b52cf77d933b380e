#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: asgi.channels contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: websocket_probe
short_description: Open a WebSocket, optionally exchange a message or prove a broadcast
version_added: 0.1.0
description:
  - Connects to a C(ws://) or C(wss://) URL from the managed host and completes the WebSocket
    opening handshake (RFC 6455) with a random C(Sec-WebSocket-Key); the response must have status
    101, the C(Upgrade) and C(Connection) headers of a WebSocket upgrade and the
    C(Sec-WebSocket-Accept) computed from that key.
  - When O(send) is set, sends it as one text message, then waits up to O(timeout) seconds for a
    text message containing O(expect) (with no O(expect), the first text message counts). When
    O(expect) is set without O(send), waits for such a message right after the handshake.
  - With O(broadcast=true), proves that a message fans out to other clients (for Django Channels,
    through the channel layer); a second connection to O(listen_url) is opened B(first), then
    O(send) goes out on the first connection and the reply must arrive on the second one.
  - Ping frames from the server are answered with pong frames, fragmented messages are
    reassembled, a close frame from the server ends the wait with an error naming its code.
  - Fails with a message that says what happened, for example the connection was refused, the
    server answered 403 (with the start of the body), the accept key was wrong, or the expected
    text did not arrive in time (with every message that did arrive).
  - Uses only the Python standard library on the managed host.
author:
  - asgi.channels developers (@asgi-channels)
options:
  url:
    description:
      - The WebSocket URL, C(ws://host[:port]/path[?query]) or C(wss://...).
      - The module connects to the host and port of this URL, whatever O(host_header) says.
    type: str
    required: true
  host_header:
    description:
      - Value of the C(Host) header, for example the nginx C(server_name) when O(url) reaches the
        server by IP address.
      - With C(wss://) its host part is also the TLS server name (SNI) and the name the
        certificate is checked against.
      - Default is the host (and port, when not the scheme's default) of O(url).
    type: str
  origin:
    description:
      - Value of the C(Origin) header. Django Channels' C(AllowedHostsOriginValidator) refuses a
        connection (403) whose Origin is missing or not in C(ALLOWED_HOSTS).
      - Default is what a browser on the same site sends, C(http://<Host header>) for C(ws://)
        and C(https://<Host header>) for C(wss://).
      - Set it to an empty string to send no C(Origin) header at all.
    type: str
  headers:
    description:
      - Extra request headers, name to value.
      - They cannot set C(Host), C(Origin), C(Upgrade), C(Connection) or C(Sec-WebSocket-*);
        use O(url), O(host_header), O(origin) and O(subprotocols) for those.
    type: dict
    default: {}
  subprotocols:
    description:
      - Subprotocols offered in C(Sec-WebSocket-Protocol), in order of preference.
      - The server may pick one of them (returned as RV(subprotocol)) or none; picking one that
        was not offered is an error.
    type: list
    elements: str
    default: []
  validate_certs:
    description:
      - Verify the server's certificate and name for C(wss://) URLs.
      - Set to V(false) only for test certificates.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the certificate authorities that sign the server's certificate, instead of
        the system's trust store. Used only when O(validate_certs=true).
    type: path
  timeout:
    description:
      - Seconds allowed to connect (TCP and TLS) and receive a verified handshake response, per
        connection; the same again to wait for the reply after O(send) (or after the handshake).
    type: float
    default: 10.0
  send:
    description:
      - Text message to send once the connection is open.
    type: str
  expect:
    description:
      - Substring the awaited text message must contain. Messages that do not contain it are
        skipped (and returned in RV(messages)) until it arrives or O(timeout) passes.
    type: str
  broadcast:
    description:
      - Prove a broadcast; open a second connection to O(listen_url) before the first, send O(send)
        on the first connection and wait for O(expect) on the second.
      - Requires O(send).
    type: bool
    default: false
  listen_url:
    description:
      - URL of the second connection when O(broadcast=true). Default is O(url); behind a
        load-balancing proxy the two connections may still reach different servers, which is
        what a broadcast test wants.
      - It uses the same O(host_header), O(origin), O(headers), O(subprotocols) and TLS options.
    type: str
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying the target.
    support: full
    details:
      - The probe changes nothing on the managed host or the server, so it runs normally in check
        mode (it connects and exchanges messages as usual) and always returns C(changed=false).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - The connection goes out from the managed host, not from the controller; use
    C(delegate_to) to probe from somewhere else.
  - Messages the application sends to every group member (a chat broadcast) also come back to
    the sender; in broadcast mode only the second connection is watched.
  - Binary messages are not matched against O(expect); they are listed in RV(messages) as
    C(<binary message, N bytes>).
seealso:
  - name: RFC 6455, The WebSocket Protocol
    description: The handshake and framing this module implements.
    link: https://www.rfc-editor.org/rfc/rfc6455
"""

EXAMPLES = r"""
- name: Check that the WebSocket endpoint answers the handshake through nginx
  asgi.channels.websocket_probe:
    url: ws://127.0.0.1/ws/chat/lobby/
    host_header: chat.example.com

- name: Send a chat message and wait for it to come back
  asgi.channels.websocket_probe:
    url: ws://127.0.0.1/ws/chat/lobby/
    send: '{"message": "smoke test"}'
    expect: smoke test
    timeout: 5

- name: Prove the channel layer broadcast (message sent on one connection, received on another)
  asgi.channels.websocket_probe:
    url: ws://127.0.0.1/ws/chat/lobby/
    broadcast: true
    send: '{"message": "hello from {{ inventory_hostname }}"}'
    expect: "hello from {{ inventory_hostname }}"
  register: chat_probe

- name: Show the broadcast delay
  ansible.builtin.debug:
    msg: "Broadcast received after {{ chat_probe.broadcast_ms }} ms"

- name: Probe a TLS endpoint that has a test certificate, offering a subprotocol
  asgi.channels.websocket_probe:
    url: wss://10.0.0.5/ws/updates/
    host_header: app.example.test
    validate_certs: false
    subprotocols:
      - graphql-transport-ws
    headers:
      Cookie: sessionid=abc123
"""

RETURN = r"""
url:
  description: The URL of the (first) connection.
  returned: always
  type: str
  sample: ws://127.0.0.1/ws/chat/lobby/
status:
  description: HTTP status of the handshake response (101 when it succeeded).
  returned: when the server answered the handshake
  type: int
  sample: 101
headers:
  description: Headers of the handshake response, names in lower case; repeated headers joined by C(, ).
  returned: when the server answered the handshake
  type: dict
  sample:
    upgrade: websocket
    connection: Upgrade
    sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
    server: nginx
subprotocol:
  description: The subprotocol the server chose, or null.
  returned: success
  type: str
  sample: null
handshake_ms:
  description: Milliseconds from opening the TCP connection to a verified handshake response.
  returned: success
  type: float
  sample: 3.412
listen_handshake_ms:
  description: Handshake time of the second connection.
  returned: success and O(broadcast=true)
  type: float
  sample: 2.87
reply:
  description: The text message that matched O(expect) (or the first one when O(expect) is not set).
  returned: success, when O(send) or O(expect) is set
  type: str
  sample: '{"message": "smoke test"}'
reply_ms:
  description: Milliseconds from sending O(send) (or from the handshake) to receiving RV(reply).
  returned: success, when O(send) or O(expect) is set and O(broadcast=false)
  type: float
  sample: 1.204
broadcast_ms:
  description: Milliseconds from sending O(send) on the first connection to receiving RV(reply) on the second.
  returned: success and O(broadcast=true)
  type: float
  sample: 4.75
messages:
  description:
    - Every message received on the watched connection (the second one with O(broadcast=true)),
      in order, including RV(reply) and those that did not match O(expect).
  returned: always
  type: list
  elements: str
  sample:
    - '{"message": "smoke test"}'
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.asgi.channels.plugins.module_utils.websocket import (
    WebSocketClient,
    WebSocketError,
)


def _client(params, url):
    return WebSocketClient(
        url,
        timeout=params["timeout"],
        host_header=params["host_header"],
        origin=params["origin"],
        headers=params["headers"],
        subprotocols=params["subprotocols"],
        validate_certs=params["validate_certs"],
        ca_path=params["ca_path"],
    )


def _handshake_result(result, client):
    if client.status is not None:
        result["status"] = client.status
        result["headers"] = client.response_headers


def run_probe(params, result):
    """Run the probe; fill ``result``. Raises WebSocketError on failure."""
    send, expect = params["send"], params["expect"]
    opened = []
    try:
        listener = None
        if params["broadcast"]:
            listener = _client(params, params["listen_url"] or params["url"])
            opened.append(listener)
            listener.connect()
            result["listen_handshake_ms"] = listener.handshake_ms
        client = _client(params, params["url"])
        opened.append(client)
        try:
            client.connect()
        finally:
            _handshake_result(result, client)
        result["handshake_ms"] = client.handshake_ms
        result["subprotocol"] = client.subprotocol
        watched = listener or client
        try:
            if send is not None:
                client.send_text(send)
            if send is not None or expect is not None:
                reply, waited_ms = watched.wait_for(expect)
                result["reply"] = reply
                result["broadcast_ms" if listener else "reply_ms"] = waited_ms
        finally:
            result["messages"] = list(watched.messages)
    finally:
        for connection in opened:
            connection.close()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            host_header=dict(type="str"),
            origin=dict(type="str"),
            headers=dict(type="dict", default={}),
            subprotocols=dict(type="list", elements="str", default=[]),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            timeout=dict(type="float", default=10.0),
            send=dict(type="str"),
            expect=dict(type="str"),
            broadcast=dict(type="bool", default=False),
            listen_url=dict(type="str"),
        ),
        required_if=[("broadcast", True, ("send",))],
        supports_check_mode=True,
    )
    params = module.params
    result = dict(changed=False, url=params["url"], messages=[])

    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be greater than 0, got %s" % params["timeout"], **result)
    if params["listen_url"] is not None and not params["broadcast"]:
        module.fail_json(msg="listen_url is only used with broadcast=true", **result)

    try:
        run_probe(params, result)
    except WebSocketError as exc:
        module.fail_json(msg=str(exc), **result)
    except (OSError, ValueError) as exc:
        module.fail_json(msg="probe of %s failed: %s" % (params["url"], exc), **result)

    module.exit_json(**result)


if __name__ == "__main__":
    main()
