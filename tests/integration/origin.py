#!/usr/bin/env python3
"""A tiny threaded HTTP/1.1 origin for what nginx cannot do in the tests.

Routes (any method unless noted):
  /echo...           JSON: method, target, version, headers (ordered pairs),
                     body_len, sha256, chunked (request used chunked framing)
  /chunked?size=N    a chunked response of N deterministic bytes; headers
                     X-Body-Len and X-Body-Sha256 describe it
  /status/NNN        that status with a short body
  /slow?ms=N         answers after N ms (capped at 10 s)
  /_stats?tag=T      JSON: requests seen with T in their target and the
                     number of distinct client TCP connections they came on
  anything else      "origin ok <target>"

Started as `origin.py --log FILE`; binds 127.0.0.1 port 0 and prints
"origin listening on 127.0.0.1:PORT" once it accepts connections.
"""
import argparse
import hashlib
import http.server
import itertools
import json
import socketserver
import sys
import threading
import time
import urllib.parse

MAX_BODY = 256 * 1024 * 1024  # refuse request bodies larger than this
BLOCK = bytes(range(256)) * 256  # 64 KiB pattern for generated bodies

_lock = threading.Lock()
_conn_ids = itertools.count(1)
_seen = []  # (target, connection id) for every request, in arrival order
_log = None


def pattern_bytes(size):
    """Yield `size` deterministic bytes in pieces of at most 64 KiB."""
    left = size
    while left > 0:
        piece = BLOCK[: min(left, len(BLOCK))]
        left -= len(piece)
        yield piece


def pattern_digest(size):
    h = hashlib.sha256()
    for piece in pattern_bytes(size):
        h.update(piece)
    return h.hexdigest()


class BadRequest(Exception):
    pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rotor-test-origin"
    sys_version = ""

    def setup(self):
        super().setup()
        self.conn_id = next(_conn_ids)

    def log_message(self, fmt, *args):  # noqa: N802 (stdlib name)
        if _log is not None:
            with _lock:
                _log.write("%s:%d conn=%d %s\n" % (self.client_address[0], self.client_address[1],
                                                   self.conn_id, fmt % args))
                _log.flush()

    def _read_chunked(self, h):
        total = 0
        while True:
            line = self.rfile.readline(1024)
            if not line.endswith(b"\r\n"):
                raise BadRequest("chunk size line without CRLF")
            size_txt = line[:-2].split(b";", 1)[0].strip()
            try:
                size = int(size_txt, 16)
            except ValueError:
                raise BadRequest("bad chunk size %r" % size_txt)
            if size == 0:
                break
            total += size
            if total > MAX_BODY:
                raise BadRequest("body too large")
            left = size
            while left:
                data = self.rfile.read(min(left, 65536))
                if not data:
                    raise BadRequest("body ended early")
                h.update(data)
                left -= len(data)
            if self.rfile.read(2) != b"\r\n":
                raise BadRequest("chunk without CRLF")
        while True:  # trailer section
            line = self.rfile.readline(8192)
            if line in (b"\r\n", b"\n", b""):
                break
        return total

    def _read_body(self):
        """Consume the request body; returns (length, sha256 hex, chunked)."""
        h = hashlib.sha256()
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            n = self._read_chunked(h)
            return n, h.hexdigest(), True
        cl = self.headers.get("Content-Length")
        if cl is None:
            return 0, h.hexdigest(), False
        try:
            left = int(cl)
        except ValueError:
            raise BadRequest("bad content-length")
        if left < 0 or left > MAX_BODY:
            raise BadRequest("content-length out of range")
        n = left
        while left:
            data = self.rfile.read(min(left, 65536))
            if not data:
                raise BadRequest("body ended early")
            h.update(data)
            left -= len(data)
        return n, h.hexdigest(), False

    def _send(self, status, body, ctype="text/plain", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self):
        try:
            body_len, digest, chunked = self._read_body()
        except BadRequest as e:
            self.close_connection = True
            self._send(400, ("origin: %s\n" % e).encode())
            return
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        path = url.path
        if path != "/_stats":
            with _lock:
                _seen.append((self.path, self.conn_id))

        if path.startswith("/echo"):
            doc = {
                "method": self.command,
                "target": self.path,
                "version": self.request_version,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body_len": body_len,
                "sha256": digest,
                "chunked": chunked,
                "peer": "%s:%d" % self.client_address[:2],
                "conn": self.conn_id,
            }
            self._send(200, (json.dumps(doc) + "\n").encode(), "application/json")
        elif path == "/chunked":
            size = min(int(query.get("size", ["100000"])[0]), MAX_BODY)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Body-Len", str(size))
            self.send_header("X-Body-Sha256", pattern_digest(size))
            self.end_headers()
            if self.command != "HEAD":
                for piece in pattern_bytes(size):
                    # Uneven chunk sizes exercise the relay's chunk parser.
                    for part in (piece[:1000], piece[1000:]):
                        if part:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
        elif path.startswith("/status/"):
            try:
                code = int(path[len("/status/"):])
            except ValueError:
                code = 400
            if code < 200 or code > 599:
                code = 400
            self._send(code, ("status %d\n" % code).encode())
        elif path == "/slow":
            ms = min(int(query.get("ms", ["100"])[0]), 10000)
            time.sleep(ms / 1000.0)
            self._send(200, b"slow ok\n")
        elif path == "/_stats":
            tag = query.get("tag", [""])[0]
            with _lock:
                hits = [c for t, c in _seen if tag and tag in t]
            doc = {"requests": len(hits), "connections": len(set(hits))}
            self._send(200, (json.dumps(doc) + "\n").encode(), "application/json")
        else:
            self._send(200, ("origin ok %s\n" % self.path).encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _route


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    global _log
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    _log = open(args.log, "a", buffering=1)
    srv = Server(("127.0.0.1", 0), Handler)
    print("origin listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
