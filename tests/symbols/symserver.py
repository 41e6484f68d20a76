#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A misbehaving symbol server for tests (standard library only).

    symserver.py ROOT [--mismatch FILE]

Serves ROOT over HTTP on 127.0.0.1 with an ephemeral port and prints the port on the first line of stdout.
The first path component picks the behaviour for the rest of the path:

    /ok/P           ROOT/P (200, or 404 when absent)
    /delay/P        as /ok/P, after two seconds (many clients asking at once overlap)
    /404/P          404
    /500/P          500 every time
    /trunc/P        Content-Length of ROOT/P, but only half of the body, then the connection is closed
    /slow/P         headers, then one byte every second
    /redirect/P     302 to /ok/P
    /loop/P         302 to itself, forever
    /huge/P         Content-Length: 2 GiB, then a few bytes and close
    /mismatch/P     the contents of --mismatch FILE (a PDB with another GUID) under any name
    /_stats         JSON {"<mode>": number of requests} so far
"""
import argparse
import http.server
import json
import os
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep the test output clean
        pass

    def _count(self, mode):
        with self.server.lock:
            self.server.stats[mode] = self.server.stats.get(mode, 0) + 1

    def _send(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _file(self, rel):
        path = os.path.normpath(os.path.join(self.server.root, rel))
        if not path.startswith(self.server.root + os.sep) or not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def do_GET(self):
        parts = self.path.lstrip("/").split("/", 1)
        mode = parts[0]
        rel = parts[1] if len(parts) > 1 else ""
        if mode == "_stats":
            with self.server.lock:
                body = json.dumps(self.server.stats).encode()
            return self._send(200, body, {"Content-Type": "application/json"})
        self._count(mode)
        if mode == "delay":
            time.sleep(2)
        if mode in ("ok", "delay"):
            data = self._file(rel)
            if data is None:
                return self._send(404, b"not found\n")
            return self._send(200, data, {"Content-Type": "application/octet-stream"})
        if mode == "404":
            return self._send(404, b"not found\n")
        if mode == "500":
            return self._send(500, b"internal error\n")
        if mode == "redirect":
            return self._send(302, b"", {"Location": "/ok/" + rel})
        if mode == "loop":
            return self._send(302, b"", {"Location": self.path})
        if mode == "mismatch":
            with open(self.server.mismatch, "rb") as f:
                return self._send(200, f.read())
        if mode == "trunc":
            data = self._file(rel) or b"x" * 4096
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return None
        if mode == "huge":
            self.send_response(200)
            self.send_header("Content-Length", str(2 << 30))
            self.end_headers()
            self.wfile.write(b"MSF" * 100)
            self.close_connection = True
            return None
        if mode == "slow":
            data = self._file(rel) or b"x" * 4096
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                for i in range(len(data)):
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
            self.close_connection = True
            return None
        return self._send(400, b"unknown mode\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--mismatch")
    args = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.root = os.path.realpath(args.root)
    srv.mismatch = args.mismatch
    srv.stats = {}
    srv.lock = threading.Lock()
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
