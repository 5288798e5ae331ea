"""rotor serve against real peers: curl and Python requests as clients,
squid and tinyproxy as authenticated upstreams (and `direct`), nginx and the
Python origin as targets. Each test starts its own gateway."""
import base64
import hashlib
import json
import re
import threading
import time
import urllib.parse

import pytest
import requests

import peers
from conftest import SQ1_USERS, SQ2_USERS, TP1_PASSWORD, TP1_USER, WEIRD_PASSWORD, WEIRD_USER

TIMEOUT = 5  # seconds for any single request on loopback

LOG_FIELDS = {"time", "client", "method", "url", "status", "code", "origin", "class", "attempts",
              "bytes_in", "bytes_out", "ms", "evidence"}
ATTEMPT_FIELDS = {"upstream", "exit", "code", "status", "ms"}

# Request headers a forward proxy must not pass on (RFC 9110 7.6.1, plus the
# proxy's own credentials and rotor's control header), and headers that
# would reveal the gateway to the target.
HOP_BY_HOP = {"connection-listed-secret", "keep-alive", "proxy-connection", "te", "upgrade",
              "proxy-authorization", "x-rotor-session"}
REVEALING = {"via", "x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-proto", "x-forwarded-host"}


tag = peers.tag
session_for = peers.session_for


def get(gw, url, **kw):
    with session_for(gw) as s:
        return s.get(url, timeout=TIMEOUT, **kw)


@pytest.fixture(params=["sq1", "tp1", "direct"])
def route(request, lab):
    """An upstream choice for the basic method tests: (label, pool text,
    proxy object or None for direct)."""
    if request.param == "direct":
        return "direct", "direct #direct\n", None
    up = getattr(lab, request.param)
    form = "url" if request.param == "sq1" else "colon"  # exercise two pool forms
    return up.label, up.pool_line(form=form) + "\n", up


def expect_through(up, needle, n=1):
    """The upstream proxy (if any) logged n requests matching needle."""
    if up is None:
        return
    counts = peers.wait_counts([up], needle, n)
    assert counts[up.label] == n, "expected %d request(s) with %r in %s's log, got %r" % (n, needle, up.label, counts)


# ---------------------------------------------------------------------------
# Methods and bodies


def test_get_curl(rotor, route, nginx):
    label, pool, up = route
    gw = rotor(pool)
    t = tag("get")
    r = peers.curl("-x", gw.proxy_url, "%s/tag/%s" % (nginx.url, t), "-o", "-", "-w", "\n%{http_code}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "nginx /tag/%s\n\n200" % t
    expect_through(up, t)
    assert nginx.wait_count(t, 1) == 1


def test_get_requests_small_and_1k(rotor, route, nginx):
    label, pool, up = route
    gw = rotor(pool)
    with session_for(gw) as s:
        r = s.get(nginx.url + "/", timeout=TIMEOUT)
        assert r.status_code == 200 and r.text == "hello from nginx\n"
        r = s.get(nginx.url + "/1k", timeout=TIMEOUT)
        assert r.status_code == 200 and r.content == b"x" * 1023 + b"\n"
        r = s.get(nginx.url + "/status/404", timeout=TIMEOUT)
        assert r.status_code == 404 and r.text == "status 404\n"


def test_post_body(rotor, route, nginx, origin):
    label, pool, up = route
    gw = rotor(pool)
    body = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4
    with session_for(gw) as s:
        r = s.post(nginx.url + "/post", data=body, timeout=TIMEOUT)
        assert r.status_code == 200, r.text[:500]
        doc = r.json()
        assert doc["method"] == "POST"
        assert doc["body_len"] == len(body) and doc["sha256"] == hashlib.sha256(body).hexdigest()
        # Straight to the Python origin too, and an empty body.
        r = s.post(origin.url + "/echo", data=b"", timeout=TIMEOUT)
        assert r.status_code == 200 and r.json()["body_len"] == 0


def test_head(rotor, route, nginx):
    label, pool, up = route
    gw = rotor(pool)
    r = peers.curl("-x", gw.proxy_url, "-I", nginx.url + "/big")
    assert r.returncode == 0, r.stderr
    head = r.stdout.decode("latin-1")
    assert re.match(r"HTTP/1\.[01] 200", head), head
    assert re.search(r"(?im)^content-length: %d\r?$" % peers.BIG_SIZE, head), head
    # The HEAD response has no body: the next response on the same client
    # connection must parse cleanly.
    with session_for(gw) as s:
        r = s.head(nginx.url + "/1k", timeout=TIMEOUT)
        assert r.status_code == 200 and r.content == b""
        assert int(r.headers["Content-Length"]) == 1024
        r = s.get(nginx.url + "/1k", timeout=TIMEOUT)
        assert r.status_code == 200 and len(r.content) == 1024


def test_chunked_upload(rotor, route, origin):
    label, pool, up = route
    gw = rotor(pool)
    parts = [b"a" * 10, b"b" * 65536, b"c" * 3, b"d" * 200000]
    whole = b"".join(parts)
    with session_for(gw) as s:
        r = s.post(origin.url + "/echo/upload", data=iter(parts), timeout=TIMEOUT)
    assert r.status_code == 200, r.text[:500]
    doc = r.json()
    assert doc["body_len"] == len(whole)
    assert doc["sha256"] == hashlib.sha256(whole).hexdigest()


def test_chunked_download(rotor, route, origin, nginx):
    label, pool, up = route
    gw = rotor(pool)
    with session_for(gw) as s:
        size = 1_000_003
        r = s.get(origin.url + "/chunked", params={"size": size}, timeout=TIMEOUT)
        assert r.status_code == 200
        assert len(r.content) == size
        assert hashlib.sha256(r.content).hexdigest() == r.headers["X-Body-Sha256"]
        r = s.get(nginx.url + "/chunked", timeout=TIMEOUT)
        assert r.status_code == 200 and r.text == nginx.chunked_body


def test_connect_https(rotor, route, nginx, certs):
    label, pool, up = route
    gw = rotor(pool)
    r = peers.curl("-x", gw.proxy_url, "--cacert", certs.ca, nginx.https_url + "/1k", "-o", "-",
                   "-w", "\n%{http_code}")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"x" * 1023 + b"\n\n200"
    with session_for(gw) as s:
        r = s.get(nginx.https_url + "/echo", verify=str(certs.ca), timeout=TIMEOUT)
        assert r.status_code == 200 and "scheme=https" in r.text
    if up is not None:
        assert up.wait_line(lambda line: "CONNECT" in line and ":%d" % nginx.https_port in line)


# ---------------------------------------------------------------------------
# Streaming and connections


def test_big_download_memory_bounded(rotor, sq1, nginx):
    """100 MiB through the gateway, read slower than the upstream can send:
    the gateway must apply backpressure, not buffer the body."""
    gw = rotor(sq1.pool_line() + "\n")
    assert get(gw, nginx.url + "/").status_code == 200  # warm up
    base_rss, _ = gw.rss_kib()
    samples = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                samples.append(gw.rss_kib()[0])
            except OSError:
                return
            stop.wait(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    got = 0
    nonzero = False
    try:
        with session_for(gw) as s:
            with s.get(nginx.url + "/big", stream=True, timeout=30) as r:
                assert r.status_code == 200
                for i, chunk in enumerate(r.iter_content(chunk_size=1 << 20)):
                    got += len(chunk)
                    nonzero = nonzero or bool(chunk.strip(b"\0"))
                    if i % 4 == 0:
                        time.sleep(0.01)  # a slow reader
    finally:
        stop.set()
        th.join(2)
    _, hwm = gw.rss_kib()
    assert got == peers.BIG_SIZE
    assert not nonzero
    growth_mib = (max(samples + [hwm]) - base_rss) / 1024
    assert growth_mib < 64, "rotor RSS grew by %.1f MiB streaming 100 MiB (base %d KiB, peak %d KiB)" % (
        growth_mib, base_rss, max(samples + [hwm]))


def test_keepalive_reuse(rotor, origin):
    """20 requests on one client connection: all are served on it, each is
    logged, and the upstream side reuses connections too."""
    gw = rotor("direct\n")
    t = tag("ka")
    with peers.RawConn(gw.port) as c:
        for i in range(20):
            c.send(("GET %s/tag/%s/%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                    % (origin.url, t, i, origin.port)).encode())
            resp = c.read_response()
            assert resp.status == 200, "request %d on the kept-alive connection: %r" % (i, resp)
            assert resp.body == ("origin ok /tag/%s/%d\n" % (t, i)).encode()
        assert not c.eof
    t2 = tag("ka-req")
    with session_for(gw) as s:
        for i in range(20):
            assert s.get("%s/tag/%s/%d" % (origin.url, t2, i), timeout=TIMEOUT).status_code == 200
    recs = gw.wait_records(lambda r: t2 in r.get("url", ""), 20)
    assert len(recs) == 20
    st = origin.stats(t2)
    assert st["requests"] == 20
    assert st["connections"] < 20, "the upstream saw a new TCP connection for every request: %r" % st


def test_keepalive_through_squid(rotor, sq1, nginx):
    gw = rotor(sq1.pool_line() + "\n")
    t = tag("ka-sq")
    with session_for(gw) as s:
        for i in range(20):
            assert s.get("%s/tag/%s/%d" % (nginx.url, t, i), timeout=TIMEOUT).status_code == 200
    peers.wait_counts([sq1], t, 20)
    assert sq1.count(t) == 20
    assert len(sq1.client_ports(t)) < 20, "rotor opened a new connection to squid for every request"


# ---------------------------------------------------------------------------
# Pool: credentials, rotation, sessions


def test_password_with_reserved_characters(rotor, sq1, nginx):
    line = sq1.pool_line(WEIRD_USER)
    assert "%40" in line and "%3A" in line and "%23" in line
    gw = rotor(line + "\n")
    t = tag("weird")
    r = get(gw, "%s/tag/%s" % (nginx.url, t))
    assert r.status_code == 200 and r.text == "nginx /tag/%s\n" % t
    peers.wait_counts([sq1], t, 1)
    assert any(t in line and " %s " % WEIRD_USER in line for line in sq1.request_lines())


def test_bare_userinfo_pool_form(rotor, sq2, nginx):
    gw = rotor(sq2.pool_line(form="bare") + "\n")
    t = tag("bare")
    assert get(gw, "%s/tag/%s" % (nginx.url, t)).status_code == 200
    expect_through(sq2, t)


def three_upstreams(lab):
    return "\n".join(["# three authenticated upstreams",
                      lab.sq1.pool_line(form="url"),
                      lab.sq2.pool_line(form="bare"),
                      lab.tp1.pool_line(form="colon"), ""])


def test_rotation_round_robin_exact(rotor, lab, nginx):
    gw = rotor(three_upstreams(lab), rotation="round-robin")
    t = tag("rr")
    for i in range(30):
        r = get(gw, "%s/tag/%s/%d" % (nginx.url, t, i))
        assert r.status_code == 200, (i, r.status_code, r.text[:300])
    counts = peers.wait_counts(lab.upstreams, t, 30)
    assert counts == {"sq1": 10, "sq2": 10, "tp1": 10}


def test_rotation_random_spreads(rotor, lab, nginx):
    gw = rotor(three_upstreams(lab), rotation="random")
    t = tag("rand")
    for i in range(60):
        assert get(gw, "%s/tag/%s/%d" % (nginx.url, t, i)).status_code == 200
    counts = peers.wait_counts(lab.upstreams, t, 60)
    assert sum(counts.values()) == 60
    # Binomial(60, 1/3) falls below 6 with probability ~1e-4 per upstream.
    assert min(counts.values()) >= 6, counts


def test_rotation_least_inflight(rotor, lab, origin):
    """A slow request in flight on one upstream sends the next one to the
    other. Two upstreams, because the power of two choices compares two
    random entries: with three, the two busy ones are drawn together one
    time in three, and the idle third is rightly not seen."""
    gw = rotor("%s\n%s\n" % (lab.sq1.pool_line(), lab.sq2.pool_line(form="bare")), rotation="least-inflight")
    for rnd in range(3):
        t = tag("lif%d" % rnd)
        results = []

        def one(i):
            try:
                results.append(get(gw, "%s/slow?ms=800&tag=%s-%d" % (origin.url, t, i)).status_code)
            except requests.RequestException as e:
                results.append(repr(e))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
        for th in threads:
            th.start()
            time.sleep(0.1)  # let the gateway count the previous one in flight
        for th in threads:
            th.join(TIMEOUT)
        assert results == [200, 200]
        counts = peers.wait_counts([lab.sq1, lab.sq2], t, 2)
        assert counts == {"sq1": 1, "sq2": 1}, (rnd, counts)


def test_session_sticky(rotor, lab, origin):
    """X-Rotor-Session pins a client session to one exit; the header never
    reaches the target. Each proxy stamps X-Lab-Exit on what it forwards."""
    gw = rotor(three_upstreams(lab), rotation="round-robin")
    exits = {}
    with session_for(gw) as s:
        for rnd in range(4):
            for n in range(12):
                sid = "sess-%d" % n
                r = s.get("%s/echo/%s/%d" % (origin.url, sid, rnd), headers={"X-Rotor-Session": sid},
                          timeout=TIMEOUT)
                assert r.status_code == 200
                hdrs = {k.lower(): v for k, v in r.json()["headers"]}
                assert "x-rotor-session" not in hdrs
                exits.setdefault(sid, []).append(hdrs.get("x-lab-exit"))
    for sid, seen in exits.items():
        assert len(set(seen)) == 1, "session %s moved between exits: %r" % (sid, seen)
        assert seen[0] in ("sq1", "sq2", "tp1")
    # Twelve sessions all pinned to one exit would mean no spreading.
    assert len({v[0] for v in exits.values()}) >= 2, exits


# ---------------------------------------------------------------------------
# Pool file loading and reload


def test_sighup_reload_under_traffic(rotor, sq1, tp1, nginx, origin):
    gw = rotor(sq1.pool_line() + "\n")
    t = tag("hup")
    stop = threading.Event()
    results = []

    def traffic():
        with session_for(gw) as s:
            i = 0
            while not stop.is_set():
                url = ("%s/tag/%s/%d" % (nginx.url, t, i)) if i % 2 else (
                    "%s/slow?ms=40&tag=%s-%d" % (origin.url, t, i))
                try:
                    results.append(s.get(url, timeout=TIMEOUT).status_code)
                except requests.RequestException as e:
                    results.append(repr(e))
                i += 1

    th = threading.Thread(target=traffic, daemon=True)
    th.start()
    try:
        peers.wait_until(lambda: len(results) >= 10, 10, what="traffic before the reload")
        gw.write_pool(tp1.pool_line(form="colon") + "\n")
        gw.sighup()
        peers.wait_until(lambda: tp1.count(t) > 0, 5, what="traffic to reach the new upstream after SIGHUP")
        n = len(results)
        peers.wait_until(lambda: len(results) >= n + 10, 10, what="traffic after the reload")
    finally:
        stop.set()
        th.join(TIMEOUT + 2)
    assert gw.alive()
    failed = [r for r in results if r != 200]
    assert not failed, "%d of %d requests failed during the reload: %r" % (len(failed), len(results), failed[:5])
    # After the reload, new requests go to the new pool only.
    t2 = tag("hup-after")
    for i in range(10):
        assert get(gw, "%s/tag/%s/%d" % (nginx.url, t2, i)).status_code == 200
    assert peers.wait_counts([sq1, tp1], t2, 10) == {"sq1": 0, "tp1": 10}


def test_bad_pool_line_fails_startup(rotor_refused, run_dir):
    d = run_dir / "badpool"
    d.mkdir(exist_ok=True)
    cases = [
        ("127.0.0.1:3128\nhttp://user:Sup3rSecretPW@127.0.0.1:notaport\n", 2),
        ("# comment\n\n127.0.0.1:99999\n", 3),
        ("direct\nsocks9://127.0.0.1:1080\n", 2),
    ]
    for i, (text, line) in enumerate(cases):
        pool = d / ("pool%d.txt" % i)
        pool.write_text(text)
        port = peers.free_port()
        rc, err = rotor_refused(["serve", "--listen", "127.0.0.1:%d" % port, "--pool", pool,
                                 "--log", d / ("log%d.jsonl" % i)])
        assert rc is not None, "rotor kept running with a bad pool file:\n%s" % err
        assert rc != 0, err
        assert re.search(r"(%s|%s):%d: \S" % (re.escape(str(pool)), re.escape(pool.name), line), err), (
            "stderr should say '%s:%d: <reason>', got:\n%s" % (pool, line, err))
        assert "Sup3rSecretPW" not in err
        assert not peers.port_open(port)


def test_failed_reload_keeps_old_pool(rotor, sq1, tp1, nginx):
    gw = rotor(sq1.pool_line() + "\n")
    t = tag("badhup")
    assert get(gw, "%s/tag/%s/0" % (nginx.url, t)).status_code == 200
    gw.write_pool("%s\nthis is not a proxy\n" % tp1.pool_line())
    gw.sighup()
    why = re.compile(r"(%s|%s):2: \S" % (re.escape(str(gw.pool_path)), re.escape(gw.pool_path.name)))
    peers.wait_until(lambda: why.search(gw.stderr_text() + gw.log_text()), 5, gw.proc,
                     "rotor to report the bad pool line ('pool.txt:2: reason')")
    assert gw.alive()
    for i in range(1, 6):
        assert get(gw, "%s/tag/%s/%d" % (nginx.url, t, i)).status_code == 200
    # Nothing half-loaded: the good first line of the bad file is not used.
    assert peers.wait_counts([sq1, tp1], t, 6) == {"sq1": 6, "tp1": 0}
    # A good file is picked up by the next SIGHUP.
    gw.write_pool(tp1.pool_line() + "\n")
    gw.sighup()
    t2 = tag("goodhup")
    peers.wait_until(lambda: get(gw, "%s/tag/%s/probe" % (nginx.url, t2)).status_code == 200
                     and tp1.count(t2) > 0, 5, what="the good pool to take over")


# ---------------------------------------------------------------------------
# Client side: malformed requests, client auth, listen address


def smuggling_vectors(target, host):
    """name -> raw request. Each is ambiguous or malformed framing or header
    syntax that a front-end and back-end could read differently."""
    start = "POST %s HTTP/1.1\r\nHost: %s\r\n" % (target, host)
    return {
        "cl_and_te": start + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "conflicting_cl": start + "Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
        "conflicting_cl_list": start + "Content-Length: 4, 5\r\n\r\nabcde",
        "bad_chunk_size": start + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        "obs_fold": start + "X-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
        "space_before_colon": start + "X-Space : a\r\nContent-Length: 0\r\n\r\n",
        "bare_cr": start + "X-Bare: a\rb\r\nContent-Length: 0\r\n\r\n",
    }


VECTOR_NAMES = list(smuggling_vectors("/", "x"))


@pytest.mark.parametrize("vector", VECTOR_NAMES)
def test_smuggling_vector_rejected(rotor, origin, vector):
    gw = rotor("direct\n")
    t = tag("smug-" + vector)
    raw = smuggling_vectors("%s/echo/%s" % (origin.url, t), "127.0.0.1:%d" % origin.port)[vector]
    with peers.RawConn(gw.port) as c:
        c.send(raw.encode("latin-1"))
        resp = c.read_response()
        assert resp.status == 400, "%s: expected 400, got %r" % (vector, resp)
        assert resp.header("x-rotor-error") == "client_bad_request", resp.headers
        # The connection cannot be trusted after a framing error.
        assert c.closed_by_peer(), "%s: rotor kept the connection open after a 400" % vector
    if vector != "bad_chunk_size":
        # Header-level errors are caught before anything is forwarded.
        assert origin.stats(t)["requests"] == 0


def test_generated_error_headers(rotor, origin):
    gw = rotor("direct\n")
    raw = smuggling_vectors(origin.url + "/echo", "127.0.0.1:%d" % origin.port)["obs_fold"]
    resp = peers.raw_exchange(gw.port, raw.encode())
    assert resp.status == 400
    assert re.search(r"\brotor\b", resp.header("via") or ""), resp.headers
    assert resp.header("x-rotor-error") == "client_bad_request"
    assert resp.header("x-rotor-origin") == "client"
    assert (resp.header("x-rotor-attempts") or "").isdigit()
    assert "http_request_error" in (resp.header("proxy-status") or "")
    rec = gw.wait_records(lambda r: r.get("code") == "client_bad_request", 1)
    assert rec and rec[0]["origin"] == "client" and rec[0]["status"] == 400


def test_client_auth(rotor, nginx, origin, certs):
    gw = rotor("direct\n", auth="scraper:cl13nt-pw")
    url = nginx.url + "/"
    # No credentials.
    r = peers.curl("-x", gw.proxy_url, url, "-o", "/dev/null", "-D", "-")
    head = r.stdout.decode("latin-1")
    assert re.match(r"HTTP/1\.[01] 407", head), head
    assert re.search(r"(?im)^proxy-authenticate: basic", head), head
    assert re.search(r"(?im)^x-rotor-error: client_auth_required", head), head
    # Wrong credentials.
    r = peers.curl("-x", gw.proxy_url, "-U", "scraper:wrong", url, "-o", "/dev/null", "-w", "%{http_code}")
    assert r.stdout == b"407"
    # Right credentials, plain and CONNECT.
    r = peers.curl("-x", gw.proxy_url, "-U", "scraper:cl13nt-pw", url, "-o", "-")
    assert r.returncode == 0 and r.stdout == b"hello from nginx\n", r.stderr
    r = peers.curl("-x", gw.proxy_url, "-U", "scraper:cl13nt-pw", "--cacert", certs.ca, nginx.https_url + "/")
    assert r.returncode == 0 and r.stdout == b"hello from nginx\n", r.stderr
    r = peers.curl("-v", "-x", gw.proxy_url, "--cacert", certs.ca, nginx.https_url + "/")
    assert r.returncode != 0 and "407" in r.stderr.decode("latin-1")
    # The client's credentials are not passed on to the target.
    with requests.Session() as s:
        s.trust_env = False
        s.proxies = {"http": "http://scraper:cl13nt-pw@127.0.0.1:%d" % gw.port}
        r = s.get(origin.url + "/echo/auth", timeout=TIMEOUT)
        assert r.status_code == 200
        assert "proxy-authorization" not in {k.lower() for k, v in r.json()["headers"]}


def test_refuses_public_listen_without_auth(rotor_refused, run_dir):
    d = run_dir / "public"
    d.mkdir(exist_ok=True)
    pool = d / "pool.txt"
    pool.write_text("direct\n")
    port = peers.free_port()
    rc, err = rotor_refused(["serve", "--listen", "0.0.0.0:%d" % port, "--pool", pool, "--log", d / "log.jsonl"],
                            timeout=3.0)
    assert rc is not None, "rotor kept running on 0.0.0.0 without --auth or --allow-open:\n%s" % err
    assert rc != 0
    assert "--auth" in err or "--allow-open" in err, "the message should say what to do:\n%s" % err
    assert not peers.port_open(port)


# ---------------------------------------------------------------------------
# What must not leak


def test_upstream_password_never_logged(rotor, lab, nginx, certs):
    wrong = "Wr0ngPw-Secret-55"
    lines = [
        lab.sq1.pool_line("alice"),
        lab.sq1.pool_line(WEIRD_USER),
        lab.sq2.pool_line(form="bare"),
        lab.tp1.pool_line(form="colon"),
        "http://alice:%s@127.0.0.1:%d #sq1-wrong" % (wrong, lab.sq1.port),
    ]
    gw = rotor("\n".join(lines) + "\n", rotation="round-robin")
    bodies = []
    with session_for(gw) as s:
        for i in range(10):
            r = s.get("%s/tag/pw/%d" % (nginx.url, i), timeout=TIMEOUT)
            bodies.append(r.content.decode("latin-1") + repr(r.headers))
            try:
                s.get(nginx.https_url + "/", verify=str(certs.ca), timeout=TIMEOUT)
            except requests.RequestException as e:
                bodies.append(str(e))  # the wrong entry fails CONNECT
    gw.wait_records(lambda r: True, 10)
    gw.sighup()  # a reload prints pool information on some gateways
    time.sleep(0.3)
    secrets = [SQ1_USERS["alice"], WEIRD_PASSWORD, SQ2_USERS["bob"], TP1_PASSWORD, wrong]
    forms = set()
    for pw in secrets:
        forms.add(pw)
        forms.add(urllib.parse.quote(pw, safe=""))
    for user, pw in [("alice", SQ1_USERS["alice"]), (WEIRD_USER, WEIRD_PASSWORD), ("bob", SQ2_USERS["bob"]),
                     (TP1_USER, TP1_PASSWORD), ("alice", wrong)]:
        forms.add(base64.b64encode(("%s:%s" % (user, pw)).encode()).decode())
    haystacks = {"log file": gw.log_text(), "stderr": gw.stderr_text(), "responses": "\n".join(bodies)}
    assert haystacks["log file"], "rotor wrote no log"
    for where, text in haystacks.items():
        for f in forms:
            assert f not in text, "an upstream password (form %r) appears in rotor's %s" % (f, where)


@pytest.fixture(params=["direct", "tp1"])
def clean_route(request, lab):
    if request.param == "direct":
        return "direct\n", None
    return lab.tp1.pool_line() + "\n", lab.tp1


def test_hop_by_hop_not_forwarded(rotor, origin, clean_route):
    """Hop-by-hop and proxy headers stop at the gateway; end-to-end headers
    pass; nothing reaching the origin reveals rotor. (squid adds its own Via
    and X-Forwarded-For, so this runs through `direct` and through tinyproxy
    with its Via disabled.)"""
    pool, up = clean_route
    gw = rotor(pool)
    t = tag("hop")
    raw = ("GET %s/echo/%s HTTP/1.1\r\n"
           "Host: 127.0.0.1:%d\r\n"
           "User-Agent: itest/1\r\n"
           "X-Keep-Me: end-to-end\r\n"
           "Connection: keep-alive, Connection-Listed-Secret, TE\r\n"
           "Connection-Listed-Secret: hop\r\n"
           "Keep-Alive: timeout=9\r\n"
           "Proxy-Connection: keep-alive\r\n"
           "TE: trailers\r\n"
           "Proxy-Authorization: Basic %s\r\n"
           "X-Rotor-Session: leak-check\r\n"
           "\r\n") % (origin.url, t, origin.port, base64.b64encode(b"client:leak").decode())
    with peers.RawConn(gw.port) as c:
        c.send(raw.encode())
        resp = c.read_response()
    assert resp.status == 200, resp
    doc = json.loads(resp.body)
    got = {}
    for k, v in doc["headers"]:
        got.setdefault(k.lower(), []).append(v)
    assert got.get("x-keep-me") == ["end-to-end"]
    assert got.get("user-agent") == ["itest/1"]
    leaked = sorted(HOP_BY_HOP & set(got))
    assert not leaked, "hop-by-hop headers reached the origin: %r" % {k: got[k] for k in leaked}
    revealing = sorted(REVEALING & set(got))
    assert not revealing, "headers revealing a proxy reached the origin: %r" % {k: got[k] for k in revealing}
    assert not [k for k in got if k.startswith("x-rotor")]
    mentions = [(k, v) for k, vs in got.items() for v in vs if "rotor" in v.lower() or "rotor" in k]
    assert not mentions, mentions
    for v in got.get("connection", []):
        assert "connection-listed-secret" not in v.lower()


def test_sigterm_exits_cleanly(rotor, sq1, nginx):
    gw = rotor(sq1.pool_line() + "\n")
    assert get(gw, nginx.url + "/").status_code == 200
    t0 = time.monotonic()
    rc = gw.stop()
    assert rc == 0, "rotor exited with %r on SIGTERM" % rc
    assert time.monotonic() - t0 < 5
    assert not peers.port_open(gw.port)


# ---------------------------------------------------------------------------
# Annotations and log records


def test_target_response_annotated_and_logged(rotor, sq1, nginx):
    gw = rotor(sq1.pool_line() + "\n")
    t = tag("note")
    with session_for(gw) as s:
        r = s.get("%s/status/404?%s" % (nginx.url, t), timeout=TIMEOUT)
    assert r.status_code == 404 and r.text == "status 404\n"
    assert r.headers.get("X-Rotor-Origin") == "target"
    assert (r.headers.get("X-Rotor-Attempts") or "").isdigit()
    recs = gw.wait_records(lambda rec: t in rec.get("url", ""), 1)
    assert len(recs) == 1, gw.log_text()[-2000:]
    rec = recs[0]
    missing = LOG_FIELDS - set(rec)
    assert not missing, "log record lacks %r: %r" % (missing, rec)
    assert rec["method"] == "GET" and rec["status"] == 404 and rec["origin"] == "target"
    assert rec["url"].startswith(nginx.url + "/status/404")
    assert "@" not in rec["url"]
    assert isinstance(rec["attempts"], list) and rec["attempts"], rec
    for a in rec["attempts"]:
        assert not ATTEMPT_FIELDS - set(a), "attempt lacks fields: %r" % a
    assert rec["attempts"][-1]["upstream"] == sq1.label
    assert rec["bytes_out"] >= len("status 404\n")
