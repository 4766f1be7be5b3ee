#!/usr/bin/env python3
"""A tiny HTTP backend for trying the proxy: answers every GET with its own port.

usage: examples/backend.py PORT   (listens on 127.0.0.1:PORT)
"""
import http.server
import sys

port = int(sys.argv[1])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"backend {port}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
