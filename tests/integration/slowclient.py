#!/usr/bin/env python3
"""Slow HTTP clients for tests/integration/test_gateway_slow_clients.sh.

Opens --conns connections to 127.0.0.1:--port from --source and trickles one
byte per connection every --interval seconds for --duration seconds:

  --mode headers  a request line, then the headers one byte at a time
                  (the classic slowloris); the headers never end
  --mode body     complete headers announcing a 100000-byte body, then the
                  body one byte at a time
  --mode idle     one complete keep-alive request, then nothing for
                  --duration seconds, then a second request on the same
                  connection: a client that is slow to send its next request,
                  not slow to send one, must not be cut

Prints one JSON object: how many connections were opened, how many the server
closed at once (refused: within 1 s, before any deadline), how many it cut
later and after how long, and how many were still open at the end; for idle,
the status of both requests. Loopback only; every socket is closed at exit.
"""
import argparse
import json
import select
import socket
import sys
import time


def connect(port, source):
    s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                 source_address=(source, 0))
    s.setblocking(False)
    return s


def closed_by_peer(s):
    """True when the server has closed (EOF or reset); drains any bytes."""
    try:
        while True:
            r, _, _ = select.select([s], [], [], 0)
            if not r:
                return False
            data = s.recv(4096)
            if not data:
                return True
    except (ConnectionError, OSError):
        return True


def trickle(args):
    head = {
        "headers": b"GET /healthz HTTP/1.1\r\nHost: gw\r\n",
        "body": (b"POST /v1/shipments HTTP/1.1\r\nHost: gw\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"),
    }[args.mode]
    drip = b"X-Slow: " + b"a" * 4096 if args.mode == "headers" else b"[" * 100000
    conns = []
    start = time.monotonic()
    for _ in range(args.conns):
        try:
            s = connect(args.port, args.source)
            s.sendall(head)
            conns.append({"s": s, "t0": time.monotonic(), "end": None, "sent": 0})
        except OSError:
            conns.append({"s": None, "t0": time.monotonic(), "end": 0.0, "sent": 0})
    while time.monotonic() - start < args.duration:
        for c in conns:
            if c["end"] is not None:
                continue
            if closed_by_peer(c["s"]):
                c["end"] = time.monotonic() - c["t0"]
                continue
            try:
                c["s"].send(drip[c["sent"]:c["sent"] + 1])
                c["sent"] += 1
            except OSError:
                c["end"] = time.monotonic() - c["t0"]
        # check for closure often, send only every interval
        tick = time.monotonic()
        while time.monotonic() - tick < args.interval:
            for c in conns:
                if c["end"] is None and closed_by_peer(c["s"]):
                    c["end"] = time.monotonic() - c["t0"]
            if time.monotonic() - start >= args.duration:
                break
            time.sleep(0.05)
    # refused: closed at once; cut: at a deadline of seconds. The line
    # between them was 0.3 s, which a loaded machine running a sanitizer
    # gateway can take just to accept and close a refused connection.
    refused = [c for c in conns if c["end"] is not None and c["end"] < 1.0]
    cut = [c for c in conns if c["end"] is not None and c["end"] >= 1.0]
    alive = [c for c in conns if c["end"] is None]
    for c in conns:
        if c["s"] is not None:
            c["s"].close()
    return {
        "opened": len(conns),
        "refused": len(refused),
        "cut": len(cut),
        "cut_after_min": round(min((c["end"] for c in cut), default=0), 2),
        "cut_after_max": round(max((c["end"] for c in cut), default=0), 2),
        "alive": len(alive),
    }


def status_of(s, timeout):
    """Read one HTTP response's status code (and its whole body)."""
    s.setblocking(True)
    s.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                return 0
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(rest) < length:
            chunk = s.recv(4096)
            if not chunk:
                return 0
            rest += chunk
        return int(head.split(b" ")[1])
    except (OSError, ValueError, IndexError):
        return 0


def idle(args):
    req = b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"
    s = connect(args.port, args.source)
    s.setblocking(True)
    s.sendall(req)
    first = status_of(s, 5)
    time.sleep(args.duration)
    try:
        s.sendall(req)
        second = status_of(s, 5)
    except OSError:
        second = 0
    s.close()
    return {"first": first, "second": second}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source", default="127.0.0.1")
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--mode", choices=["headers", "body", "idle"], default="headers")
    args = p.parse_args()
    if not args.source.startswith("127."):
        sys.exit("loopback sources only")
    out = idle(args) if args.mode == "idle" else trickle(args)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
