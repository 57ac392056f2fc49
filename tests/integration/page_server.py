#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A static file server for ws_page.html (test_print_station_ws.sh, make
demo): `page_server.py PORT DIR`. Besides the files, GET /hold answers after
half a second: headless Chromium's virtual time stands still while a fetch
is pending, so a page that holds one open while it waits for the station
gives real time to the real printer before --dump-dom is taken."""
import functools
import http.server
import sys
import time


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/hold"):
            time.sleep(0.5)
            self.send_response(204)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    handler = functools.partial(Handler, directory=sys.argv[2])
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
