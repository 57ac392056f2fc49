#!/usr/bin/env python3
"""Send raw bytes to an HTTP server on loopback and report what came back.

  rawhttp.py PORT FILE [TIMEOUT]

Sends FILE's bytes as they are (so a test can write requests no HTTP client
would: two Content-Length headers, a body framed two ways, a NUL in the
path) and reads until the server closes or TIMEOUT seconds (default 3) pass
without data. Prints one JSON object: "responses" (how many status lines
came back), "status" (of the first, 0 when none), "closed" (whether the
server closed the connection), "connection_close" (whether the first
response said Connection: close) and "body" (of the first response).
"""
import json
import re
import socket
import sys


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    with open(path, "rb") as f:
        request = f.read()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    data, closed = b"", False
    try:
        s.sendall(request)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except socket.timeout:
        pass
    except ConnectionError:
        closed = True
    finally:
        s.close()
    statuses = re.findall(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3}) ", data)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = None
    close = False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
        if k.strip().lower() == b"connection" and v.strip().lower() == b"close":
            close = True
    body = rest[:length] if length is not None else rest
    print(json.dumps({
        "responses": len(statuses),
        "status": int(statuses[0]) if statuses else 0,
        "closed": closed,
        "connection_close": close,
        "body": body.decode("utf-8", "replace"),
    }))


if __name__ == "__main__":
    main()
