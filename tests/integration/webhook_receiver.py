#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A webhook receiver for tests: verifies every Smile-Signature and records
every request, one endpoint per path.

    webhook_receiver.py PORT DIR

POST /NAME is endpoint NAME. Its signing secret is read from DIR/NAME.secret
at each request (the test writes it once the gateway has shown it), its
behaviour from DIR/NAME.mode (absent: ok):

    ok          200
    fail N      500 to the first N requests, then 200
    hang        sleep 60 s before answering (the gateway must cut it)
    sleep S     sleep S seconds, then 200
    gone        410
    status S    S, always

Each request's event_id is appended to DIR/NAME.arrivals as it arrives;
each request appends one JSON line to DIR/NAME.log: event_id, type,
waybill, event, verified (the signature checks out and its timestamp is
within five minutes, as docs/webhooks.md tells receivers to do), answered
(the status sent), and the raw body. Threaded: a hanging endpoint holds
only its own request.
"""
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = sys.argv[2]
LOCK = threading.Lock()
COUNTS = {}


def verify(secret, header, body):
    """docs/webhooks.md, "Verifying a delivery", in Python."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - t) > 300:
        return False
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts.get("v1", ""))


def read(name, suffix, default=""):
    try:
        with open(os.path.join(DIR, name + suffix)) as f:
            return f.read().strip()
    except OSError:
        return default


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        name = self.path.strip("/").split("?")[0] or "root"
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ok = verify(read(name, ".secret"), self.headers.get("Smile-Signature", ""), body)
        try:
            eid = json.loads(body).get("event_id")
        except ValueError:
            eid = None
        with LOCK:
            with open(os.path.join(DIR, name + ".arrivals"), "a") as f:
                f.write(f"{eid}\n")
        mode = read(name, ".mode", "ok").split()
        with LOCK:
            n = COUNTS[name] = COUNTS.get(name, 0) + 1
        status = 200
        if mode[0] == "fail" and n <= int(mode[1]):
            status = 500
        elif mode[0] == "hang":
            time.sleep(60)
        elif mode[0] == "sleep":
            time.sleep(float(mode[1]))
        elif mode[0] == "gone":
            status = 410
        elif mode[0] == "status":
            status = int(mode[1])
        try:
            j = json.loads(body)
        except ValueError:
            j = {}
        rec = {"event_id": j.get("event_id"), "type": j.get("type"),
               "waybill": j.get("waybill"), "event": j.get("event"),
               "header_event_id": self.headers.get("Smile-Event-Id"),
               "verified": ok, "answered": status, "body": body.decode("utf-8", "replace")}
        with LOCK:
            with open(os.path.join(DIR, name + ".log"), "a") as f:
                f.write(json.dumps(rec) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


if __name__ == "__main__":
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.daemon_threads = True
    srv.serve_forever()
