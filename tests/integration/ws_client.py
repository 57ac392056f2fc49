#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A tiny WebSocket client (RFC 6455, stdlib only) for the print station's
local API tests (test_print_station_ws.sh).

    ws_client.py --port P [--origin O] [--until REGEX] [--timeout S] ACTION...

ACTIONs are sent in order after the handshake:
    text:JSON          one text frame
    file:PATH          one text frame with the file's content
    frag:JSON          the same text in three fragments (continuation frames)
    binary:HEX         one binary frame
    big:N              one text frame of N bytes ("x" * N)
--tls-ca FILE speaks wss:// and trusts FILE (a self-signed certificate).
    wait:REGEX         read messages until one matches REGEX

Output, one line each: "HANDSHAKE 101" (or the refusal: the status, or
"HANDSHAKE closed"), every message received, "CLOSE code reason" for a close
frame, "EOF" when the server closed the connection. After the actions it
reads until --until matches (default: nothing more) or --timeout.
"""
import argparse
import base64
import hashlib
import os
import re
import socket
import ssl
import struct
import sys
import time


def frame(opcode, payload, fin=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Conn:
    def __init__(self, port, origin, timeout, cafile=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if cafile:  # wss://, the station's certificate checked against cafile
            ctx = ssl.create_default_context(cafile=cafile)
            self.s = ctx.wrap_socket(self.s, server_hostname="localhost")
        self.buf = b""
        self.deadline = time.time() + timeout
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n" % (port, key))
        if origin:
            req += "Origin: %s\r\n" % origin
        self.s.sendall((req + "\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            d = self._recv()
            if not d:
                self.status = "closed"
                return
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = lines[0].split(" ")[1] if " " in lines[0] else lines[0]
        want = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        if self.status == "101" and ("sec-websocket-accept: " + want.lower()) not in head.decode().lower():
            self.status = "101-bad-accept"

    def _recv(self):
        left = self.deadline - time.time()
        if left <= 0:
            raise TimeoutError
        self.s.settimeout(left)
        try:
            return self.s.recv(65536)
        except ConnectionResetError:
            return b""

    def _need(self, n):
        while len(self.buf) < n:
            d = self._recv()
            if not d:
                raise EOFError
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def message(self):
        """One whole message: (opcode, payload)."""
        data, first_op = b"", None
        while True:
            b0, b1 = self._need(2)
            op, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._need(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._need(8))[0]
            payload = self._need(n)
            if op >= 8:  # control frames
                if op == 9:
                    self.s.sendall(frame(10, payload))
                    continue
                return op, payload
            if first_op is None:
                first_op = op
            data += payload
            if b0 & 0x80:
                return first_op, data

    def send(self, opcode, payload):
        self.s.sendall(frame(opcode, payload))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--origin", default="")
    ap.add_argument("--until", default=None)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--tls-ca", default=None, help="wss://: trust this certificate")
    ap.add_argument("actions", nargs="*")
    a = ap.parse_args()
    try:
        c = Conn(a.port, a.origin, a.timeout, a.tls_ca)
    except (OSError, TimeoutError, EOFError, ssl.SSLError):
        print("HANDSHAKE closed")
        return 0
    print("HANDSHAKE %s" % c.status, flush=True)
    if c.status != "101":
        return 0

    def read_until(rx):
        while True:
            op, p = c.message()
            if op == 8:
                code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 0
                print("CLOSE %d %s" % (code, p[2:].decode("utf-8", "replace")), flush=True)
                raise EOFError
            line = p.decode("utf-8", "replace")
            print(line, flush=True)
            if rx and re.search(rx, line):
                return

    try:
        for act in a.actions:
            kind, _, arg = act.partition(":")
            if kind == "text":
                c.send(1, arg.encode())
            elif kind == "file":
                with open(arg, "rb") as f:
                    c.send(1, f.read().strip())
            elif kind == "frag":
                b = arg.encode()
                k = len(b) // 3
                c.s.sendall(frame(1, b[:k], fin=False) + frame(0, b[k:2 * k], fin=False)
                            + frame(0, b[2 * k:]))
            elif kind == "binary":
                c.send(2, bytes.fromhex(arg))
            elif kind == "big":
                c.send(1, b"x" * int(arg))
            elif kind == "wait":
                read_until(arg)
        if a.until:
            read_until(a.until)
    except EOFError:
        print("EOF")
    except TimeoutError:
        print("TIMEOUT")
    except OSError as e:
        print("EOF %s" % e.__class__.__name__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
