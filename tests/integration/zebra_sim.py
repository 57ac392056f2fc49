#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""zebra_sim.py - a test stand-in for a Zebra thermal printer on raw TCP
(port 9100 style), for the printing tests. This machine has no printer:
this speaks enough of the protocol for smile-label's socket back end.

    zebra_sim.py --port PORT --dir DIR [--silent] [--blackhole]

- Every ^XA...^XZ format received is "printed": written to
  DIR/label-NNNN.zpl (NNNN counts from 0001 across connections), ^PQn
  times over (one file per copy), unless the printer is in trouble.
- ~HS is answered with the three Zebra host-status frames
  (<STX>...<ETX><CR><LF>): paper out, pause, formats in the receive
  buffer, buffer full / head up, ribbon out, labels left in the batch.
- The state is DIR/state, key=value lines the test may rewrite at any
  time: paper_out, head_open, paused, buffer_full (0/1) and paper (labels
  left on the roll; -1 = endless). When paper reaches 0 the simulator sets
  paper_out=1 itself. A format that arrives while paper_out, head_open or
  paused is kept in the buffer and printed once the state clears (as a
  real printer does), so ~HS reports it in "formats in buffer".
- --silent: accept connections and read everything (appended to
  DIR/received), never answer ~HS and print nothing (a printer that hangs).
- --blackhole: listen but never accept, with the accept queue full, so a
  new connection attempt times out (a printer that is off, on loopback).
"""
import argparse
import os
import signal
import socket
import sys
import threading

STATE_KEYS = ("paper_out", "head_open", "paused", "buffer_full", "paper")


class Printer:
    def __init__(self, d):
        self.dir = d
        self.lock = threading.Lock()
        self.count = 0
        self.buffer = []  # formats held while the printer is in trouble
        if not os.path.exists(self.path()):
            self.save({"paper_out": 0, "head_open": 0, "paused": 0, "buffer_full": 0, "paper": -1})

    def path(self):
        return os.path.join(self.dir, "state")

    def load(self):
        st = {k: 0 for k in STATE_KEYS}
        st["paper"] = -1
        with open(self.path()) as f:
            for line in f:
                if "=" in line:
                    k, v = line.strip().split("=", 1)
                    if k in STATE_KEYS:
                        st[k] = int(v)
        return st

    def save(self, st):
        tmp = self.path() + ".tmp"
        with open(tmp, "w") as f:
            for k in STATE_KEYS:
                f.write("%s=%d\n" % (k, st[k]))
        os.replace(tmp, self.path())

    @staticmethod
    def blocked(st):
        return st["paper_out"] or st["head_open"] or st["paused"]

    def run_buffer(self, st):
        """Print what the buffer holds while the printer can. Lock held.
        The state file is written only when printing changed it, so a test's
        own change is never overwritten by a stale copy."""
        before = dict(st)
        while self.buffer and not self.blocked(st):
            fmt = self.buffer[0]
            copies = 1
            i = fmt.rfind(b"^PQ")
            if i >= 0:
                digits = b""
                for c in fmt[i + 3:]:
                    if 48 <= c <= 57:
                        digits += bytes([c])
                    else:
                        break
                copies = int(digits or b"1")
            while copies > 0 and not self.blocked(st):
                self.count += 1
                with open(os.path.join(self.dir, "label-%04d.zpl" % self.count), "wb") as f:
                    f.write(fmt)
                copies -= 1
                if st["paper"] > 0:
                    st["paper"] -= 1
                    if st["paper"] == 0:
                        st["paper_out"] = 1
            if copies == 0:
                self.buffer.pop(0)
            else:  # the rest of this format's copies wait, like ^PQ on a real one
                self.buffer[0] = fmt[:i] + b"^PQ%d\n^XZ" % copies
        if st != before:
            self.save(st)

    def add(self, fmt):
        with self.lock:
            self.buffer.append(fmt)
            self.run_buffer(self.load())

    def status(self):
        with self.lock:
            st = self.load()
            self.run_buffer(st)
            n = len(self.buffer)
            one = "030,%d,%d,1199,%03d,%d,0,0,000,0,0,0" % (
                st["paper_out"], st["paused"], n, st["buffer_full"])
            two = "001,0,%d,0,0,2,6,0,00000000,1,000" % st["head_open"]
            three = "1234,0"
            return b"".join(b"\x02" + s.encode() + b"\x03\r\n" for s in (one, two, three))


def serve_client(conn, printer, silent):
    data = b""
    with conn:
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            if silent:  # keep what came, for the test to see what was sent
                with open(os.path.join(printer.dir, "received"), "ab") as f:
                    f.write(chunk)
                continue
            data += chunk
            while True:
                hs = data.find(b"~HS")
                xa = data.find(b"^XA")
                if hs >= 0 and (xa < 0 or hs < xa):
                    data = data[hs + 3:]
                    try:
                        conn.sendall(printer.status())
                    except OSError:
                        return
                    continue
                if xa >= 0:
                    xz = data.find(b"^XZ", xa)
                    if xz < 0:
                        break  # wait for the rest of the format
                    printer.add(data[xa:xz + 3])
                    data = data[xz + 3:]
                    continue
                # nothing complete: keep only a tail that may start a command
                data = data[-2:] if len(data) > 2 else data
                break


def main():
    ap = argparse.ArgumentParser()
    # 0 (the default): the kernel picks a free port, written into <dir>/ready,
    # so two tests never race for one port between "free" and bind()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--silent", action="store_true")
    ap.add_argument("--blackhole", action="store_true")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    port = srv.getsockname()[1]

    def ready():
        tmp = os.path.join(a.dir, "ready.tmp")
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, os.path.join(a.dir, "ready"))
    if a.blackhole:
        srv.listen(0)
        # fill the accept queue: further SYNs are dropped, connects time out
        fill = []
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fill.append(c)
        ready()
        signal.pause()
        return
    srv.listen(16)
    printer = Printer(a.dir)
    ready()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve_client, args=(conn, printer, a.silent), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
