"""Hostile and overloading clients against `rotor serve`: every limit in
docs/security.md is hit here and answered as documented (status,
X-Rotor-Error, and whether the connection stays open)."""
import hashlib
import os
import socket
import threading
import time

import pytest

import peers

TIMEOUT = 5
SANITIZED = bool(os.environ.get("ROTOR_SANITIZED"))


tag = peers.tag
session_for = peers.session_for


def get_req(url, host):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (url, host)).encode()


def assert_generated(resp, status, code):
    assert resp.status == status, "expected %d %s, got %r" % (status, code, resp)
    assert resp.header("x-rotor-error") == code, resp.headers
    assert "rotor" in (resp.header("via") or ""), resp.headers


# ---------------------------------------------------------------------------
# --max-clients


def test_max_clients_answers_503(rotor, origin):
    gw = rotor("direct\n", extra_args=["--max-clients", "3"])
    held = [peers.RawConn(gw.port) for _ in range(3)]
    try:
        # The first three are accepted in order; the fourth is over the limit.
        time.sleep(0.2)
        with peers.RawConn(gw.port) as c:
            resp = c.read_response()
            assert_generated(resp, 503, "gateway_overloaded")
            assert resp.header("retry-after") == "1"
            assert c.closed_by_peer()
        # A held connection still works: the limit refused only the newcomer.
        held[0].send(get_req(origin.url + "/held", "127.0.0.1:%d" % origin.port))
        assert held[0].read_response().status == 200
    finally:
        for c in held:
            c.close()
    # Room again once clients leave.
    peers.wait_until(lambda: peers.raw_exchange(gw.port, get_req(origin.url + "/after",
                                                                 "127.0.0.1:%d" % origin.port)).status == 200,
                     5, what="a connection to be served after the held ones closed")
    recs = gw.wait_records(lambda r: r.get("code") == "gateway_overloaded", 1)
    assert recs and recs[0]["status"] == 503


# ---------------------------------------------------------------------------
# Request line and head sizes


def test_request_line_too_long_414(rotor, origin):
    gw = rotor("direct\n", extra_args=["--max-line-bytes", "1024"])
    host = "127.0.0.1:%d" % origin.port
    ok = "%s/%s" % (origin.url, "a" * 900)
    assert peers.raw_exchange(gw.port, get_req(ok, host)).status == 200
    long_url = "%s/%s" % (origin.url, "a" * 2000)
    with peers.RawConn(gw.port) as c:
        c.send(get_req(long_url, host))
        assert_generated(c.read_response(), 414, "client_uri_too_long")
        assert c.closed_by_peer()
    # The default (8192) applies without the flag.
    gw2 = rotor("direct\n")
    resp = peers.raw_exchange(gw2.port, get_req("%s/%s" % (origin.url, "b" * 9000), host))
    assert_generated(resp, 414, "client_uri_too_long")


def test_header_section_too_large_431(rotor, origin):
    gw = rotor("direct\n", extra_args=["--max-header-bytes", "4096"])
    host = "127.0.0.1:%d" % origin.port
    t = tag("big-head")
    fields = "".join("X-Pad-%d: %s\r\n" % (i, "v" * 100) for i in range(60))  # ~7 KB
    raw = ("GET %s/echo/%s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (origin.url, t, host, fields)).encode()
    with peers.RawConn(gw.port) as c:
        c.send(raw)
        assert_generated(c.read_response(), 431, "client_headers_too_large")
        assert c.closed_by_peer()
    assert origin.stats(t)["requests"] == 0
    small = "".join("X-Pad-%d: %s\r\n" % (i, "v" * 100) for i in range(20))  # ~2.5 KB
    raw = ("GET %s/echo/%s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (origin.url, t, host, small)).encode()
    assert peers.raw_exchange(gw.port, raw).status == 200


def test_header_count_over_128_is_431(rotor, nginx):
    # nginx as the target: Python's http.server stops at 100 fields.
    gw = rotor("direct\n")
    host = "127.0.0.1:%d" % nginx.http_port
    t = tag("many-head")

    def req(n):  # Host plus n other fields
        fields = "".join("X-F%d: v\r\n" % i for i in range(n))
        return ("GET %s/%s-%d HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (nginx.url, t, n, host, fields)).encode()

    assert peers.raw_exchange(gw.port, req(127)).status == 200  # 128 fields: the limit
    with peers.RawConn(gw.port) as c:
        c.send(req(128))
        assert_generated(c.read_response(), 431, "client_headers_too_large")
        assert c.closed_by_peer()
    assert nginx.wait_count("%s-127" % t, 1) == 1
    assert nginx.count("%s-128" % t) == 0


# ---------------------------------------------------------------------------
# Request body replay buffer: what is resent on a retry


def post(gw, url, body):
    with session_for(gw) as s:
        return s.post(url, data=body, timeout=15, headers={"Content-Type": "application/octet-stream"})


def test_replay_buffer_small_post_resent_large_post_not(rotor, sq1, sq2, origin):
    """The first upstream refuses the credentials (407, which proves the
    target saw nothing). A body that fits --max-replay is resent to the next
    upstream; a larger one was streamed and is gone, so it is not resent and
    the client gets the failure instead."""
    pool = ("http://alice:Wr0ng-Replay@127.0.0.1:%d #bad\n%s\n" % (sq1.port, sq2.pool_line()))
    limit = 64 * 1024
    small = os.urandom(8 * 1024)
    large = os.urandom(600 * 1024)

    gw = rotor(pool, rotation="round-robin", extra_args=["--max-replay", str(limit)])
    t = tag("replay-small")
    r = post(gw, "%s/echo/%s" % (origin.url, t), small)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["body_len"] == len(small) and doc["sha256"] == hashlib.sha256(small).hexdigest()
    assert origin.stats(t)["requests"] == 1
    rec = gw.wait_records(lambda x: t in x.get("url", ""), 1)[0]
    assert [a["upstream"] for a in rec["attempts"]] == ["bad", "sq2"], rec

    gw2 = rotor(pool, rotation="round-robin", extra_args=["--max-replay", str(limit)])
    t2 = tag("replay-large")
    r = post(gw2, "%s/echo/%s" % (origin.url, t2), large)
    assert r.status_code >= 500 or r.status_code == 407, r.status_code
    assert r.headers.get("X-Rotor-Error", "").startswith("proxy_"), r.headers
    assert r.headers.get("X-Rotor-Attempts") == "1", r.headers
    rec = gw2.wait_records(lambda x: t2 in x.get("url", ""), 1)[0]
    assert [a["upstream"] for a in rec["attempts"]] == ["bad"], rec
    time.sleep(0.3)
    assert origin.stats(t2)["requests"] == 0, "the streamed body was resent"
    # The same large body on a working upstream streams through intact.
    t3 = tag("replay-large-ok")
    r = post(gw2, "%s/echo/%s" % (origin.url, t3), large)
    assert r.status_code == 200
    assert r.json()["sha256"] == hashlib.sha256(large).hexdigest()


# ---------------------------------------------------------------------------
# Per-connection buffers: backpressure toward a client that stops reading


def test_stalled_reader_does_not_grow_rss(rotor, nginx):
    gw = rotor("direct\n")
    assert peers.raw_exchange(gw.port, get_req(nginx.url + "/1k", "127.0.0.1:%d" % nginx.http_port)).status == 200
    base, _ = gw.rss_kib()
    c = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    try:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        c.sendall(get_req(nginx.url + "/big", "127.0.0.1:%d" % nginx.http_port))
        got = 0
        while got < 1 << 20:
            got += len(c.recv(65536))
        # Stop reading: 100 MiB wait behind this client. Sample rotor's RSS
        # while it sits there.
        peak = base
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            peak = max(peak, gw.rss_kib()[0])
            time.sleep(0.05)
        growth_mib = (peak - base) / 1024
        assert growth_mib < 16, "rotor buffered %.1f MiB for a client that stopped reading" % growth_mib
        # The transfer is paused, not lost: reading again resumes it.
        more = 0
        c.settimeout(5)
        while more < 4 << 20:
            data = c.recv(1 << 20)
            assert data, "rotor closed the stalled client instead of resuming"
            more += len(data)
    finally:
        c.close()
    # Closing the stalled client ends the exchange and frees the upstream.
    recs = gw.wait_records(lambda r: "/big" in r.get("url", ""), 1)
    assert recs and recs[0]["code"] == "client_closed", recs


# ---------------------------------------------------------------------------
# Timeouts: header read (slowloris), idle, DNS, connect


def slowloris(port, head, interval, first=None, out=None):
    """Send `first` (a complete request, read its answer), then `head` one
    byte every `interval` seconds until rotor answers or closes; returns
    (seconds from the first slow byte to the answer, response)."""
    c = peers.RawConn(port, timeout=30)
    try:
        if first:
            c.send(first)
            assert c.read_response().status == 200
        t0 = time.monotonic()
        for b in head:
            try:
                c.send(bytes([b]))
            except OSError:
                break
            # Anything back (or a close) ends the dribble.
            if c._fill(time.monotonic() + interval) or c.eof:
                break
        resp = c.read_response(timeout=10)
        return time.monotonic() - t0, resp, c.closed_by_peer()
    finally:
        c.close()


def test_slowloris_dropped_at_header_timeout_408(rotor, origin):
    gw = rotor("direct\n", extra_args=["--header-timeout", "3000", "--idle-timeout", "60000"])
    host = "127.0.0.1:%d" % origin.port
    head = get_req(origin.url + "/slowloris", host).replace(b"\r\n\r\n", b"\r\nX-Pad: " + b"x" * 200)
    results = {}

    def run(name, first):
        results[name] = slowloris(gw.port, head, 1.0, first=first)

    ths = [threading.Thread(target=run, args=("fresh", None)),
           threading.Thread(target=run, args=("keepalive", get_req(origin.url + "/first", host)))]
    for th in ths:
        th.start()
    for th in ths:
        th.join(20)
    for name in ("fresh", "keepalive"):
        took, resp, closed = results[name]
        assert_generated(resp, 408, "client_timeout")
        assert closed, name
        assert 2.0 <= took <= 5.5, "%s: answered after %.1f s, expected about 3 s" % (name, took)
    assert origin.stats("/slowloris")["requests"] == 0


def test_idle_keepalive_closed_after_idle_timeout(rotor, origin):
    gw = rotor("direct\n", extra_args=["--idle-timeout", "1000"])
    with peers.RawConn(gw.port) as c:
        c.send(get_req(origin.url + "/idle", "127.0.0.1:%d" % origin.port))
        assert c.read_response().status == 200
        t0 = time.monotonic()
        assert c.closed_by_peer(timeout=4)
        took = time.monotonic() - t0
        assert 0.7 <= took <= 3, took
        assert c.buf == b"", "an idle close sends nothing: %r" % c.buf


def blackhole_dns():
    """A UDP socket on loopback that takes DNS queries and never answers."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    return u


def test_dns_timeout(rotor, origin):
    dns = blackhole_dns()
    try:
        gw = rotor("direct\n", extra_args=["--dns-server", "127.0.0.1:%d" % dns.getsockname()[1],
                                            "--connect-timeout", "1000", "--max-attempts", "1"])
        t0 = time.monotonic()
        resp = peers.raw_exchange(gw.port, get_req("http://never-answers.test/", "never-answers.test"))
        took = time.monotonic() - t0
        assert_generated(resp, 502, "target_dns_failed")
        assert "dns_error" in resp.header("proxy-status") and "timed out" in resp.header("proxy-status")
        assert 0.8 <= took <= 3, took
        dns.settimeout(1)
        assert dns.recvfrom(512)[0], "rotor did not ask the configured resolver"
        # One name that does not resolve says nothing about `direct`: other
        # sites still work.
        resp = peers.raw_exchange(gw.port, get_req(origin.url + "/after-dns", "127.0.0.1:%d" % origin.port))
        assert resp.status == 200, resp
    finally:
        dns.close()


def full_backlog():
    """A listener whose accept queue is full: further SYNs are dropped, so a
    connect to it hangs (the loopback way to reach a black hole)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    filler = socket.create_connection(ls.getsockname(), timeout=2)
    probe = socket.socket()
    probe.settimeout(0.3)
    try:
        probe.connect(ls.getsockname())
        pytest.fail("a full backlog still completed a handshake: cannot build a black hole here")
    except socket.timeout:
        pass
    finally:
        probe.close()
    return ls, filler


def test_connect_timeout_proxy_and_target(rotor):
    ls, filler = full_backlog()
    port = ls.getsockname()[1]
    try:
        gw = rotor("127.0.0.1:%d #hole\n" % port, extra_args=["--connect-timeout", "1000", "--max-attempts", "1"])
        t0 = time.monotonic()
        resp = peers.raw_exchange(gw.port, get_req("http://example.test/", "example.test"))
        assert_generated(resp, 504, "proxy_connect_timeout")
        assert 0.8 <= time.monotonic() - t0 <= 3
        gw2 = rotor("direct\n", extra_args=["--connect-timeout", "1000", "--max-attempts", "1"])
        resp = peers.raw_exchange(gw2.port, get_req("http://127.0.0.1:%d/" % port, "127.0.0.1:%d" % port))
        assert_generated(resp, 504, "target_connect_timeout")
    finally:
        filler.close()
        ls.close()


def test_client_leaving_stops_the_request(rotor, origin):
    """A client that gives up while rotor waits for the upstream ends the
    request at once (client_closed): no attempts run on for nobody."""
    gw = rotor("direct\n")
    t = tag("leaver")
    c = peers.RawConn(gw.port)
    c.send(get_req("%s/slow?ms=4000&%s" % (origin.url, t), "127.0.0.1:%d" % origin.port))
    time.sleep(0.3)
    c.close()
    recs = gw.wait_records(lambda r: t in r.get("url", ""), 1, timeout=3)
    assert recs, "no log record within 3 s of the client leaving: rotor kept waiting for the upstream"
    assert recs[0]["code"] == "client_closed" and recs[0]["ms"] < 2000, recs[0]
