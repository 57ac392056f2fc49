#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Publish files, in order, on one MQTT connection without waiting in between.

    mqtt_pipeline.py HOST PORT USERNAME PASSWORD TOPIC FILE...

A handheld that pipelines its scans sends them one after another on its one
connection; mosquitto_pub started once a file, in parallel, cannot: under
load its processes connect in any order, so the scans reach the gateway out
of sequence and most are refused as replays. This client sends every file as
a QoS 1 PUBLISH (MQTT 3.1.1) back to back, then waits for all the PUBACKs.
Exits 0 when the broker acknowledged every message, 1 otherwise (named).
"""
import socket
import struct
import sys


def remaining_length(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def packet(kind, body):
    return bytes([kind]) + remaining_length(len(body)) + body


def read_packet(sock):
    head = recv_exact(sock, 1)[0]
    mult, length = 1, 0
    while True:
        b = recv_exact(sock, 1)[0]
        length += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    return head, recv_exact(sock, length)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise SystemExit("mqtt_pipeline: the broker closed the connection")
        buf += chunk
    return buf


def main():
    if len(sys.argv) < 7:
        raise SystemExit(__doc__.strip().splitlines()[2].strip())
    host, port, user, password, topic = sys.argv[1:6]
    files = sys.argv[6:]
    sock = socket.create_connection((host, int(port)), timeout=30)
    # CONNECT: protocol "MQTT" level 4, flags username+password+clean session
    body = utf8("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 60)
    body += utf8("pipeline-%s" % user) + utf8(user) + utf8(password)
    sock.sendall(packet(0x10, body))
    head, rest = read_packet(sock)
    if head >> 4 != 2 or len(rest) < 2 or rest[1] != 0:
        raise SystemExit("mqtt_pipeline: connection refused (CONNACK %r)" % rest)
    out = bytearray()
    for i, name in enumerate(files, start=1):
        with open(name, "rb") as f:
            payload = f.read()
        out += packet(0x32, utf8(topic) + struct.pack("!H", i) + payload)
    sock.sendall(out)  # all of them, back to back
    acked = set()
    while len(acked) < len(files):
        head, rest = read_packet(sock)
        if head >> 4 == 4:  # PUBACK
            acked.add(struct.unpack("!H", rest[:2])[0])
    sock.sendall(packet(0xE0, b""))  # DISCONNECT
    sock.close()


if __name__ == "__main__":
    main()
