"""rotor is never an open proxy by accident: forbidden CONNECT ports, the
--connect-ports allow-list, loops back into rotor, --allow-clients, client
authentication, and upstream secrets that never show anywhere."""
import base64
import json
import socket
import subprocess
import time
import urllib.parse

import requests

import peers
from conftest import SQ1_USERS, SQ2_USERS, TP1_PASSWORD, TP1_USER, WEIRD_PASSWORD, WEIRD_USER

TIMEOUT = 5


def connect_req(hostport, extra=""):
    return ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (hostport, hostport, extra)).encode()


def read_connect(c):
    """The answer to a CONNECT: a 200 has no body (the tunnel follows), a
    refusal has a Content-Length body."""
    r = c.read_response(head_request=True)
    n = int(r.header("content-length") or 0)
    if r.status != 200 and n:
        c._until(lambda: len(c.buf) >= n, time.monotonic() + 5)
        r.body, c.buf = c.buf[:n], c.buf[n:]
        r.raw += r.body
    return r


def expect(resp, status, code, proxy_status=None):
    assert resp.status == status, "expected %d %s, got %r" % (status, code, resp)
    assert resp.header("x-rotor-error") == code, resp.headers
    if proxy_status:
        assert proxy_status in (resp.header("proxy-status") or ""), resp.headers


# ---------------------------------------------------------------------------
# CONNECT ports


def test_connect_to_mail_ports_refused_by_default(rotor, nginx):
    gw = rotor("direct\n")
    for port in (25, 465, 587, 2525, 110, 143, 993, 995, 119, 563):
        with peers.RawConn(gw.port) as c:
            c.send(connect_req("127.0.0.1:%d" % port))
            expect(read_connect(c), 403, "client_forbidden_port", "http_request_denied")
    # Any other port is allowed without --connect-ports.
    with peers.RawConn(gw.port) as c:
        c.send(connect_req("127.0.0.1:%d" % nginx.http_port))
        assert read_connect(c).status == 200
    recs = gw.wait_records(lambda r: r.get("code") == "client_forbidden_port", 10)
    assert len(recs) == 10 and all(r["origin"] == "client" for r in recs)


def test_connect_ports_allow_list(rotor, nginx, origin, certs):
    gw = rotor("direct\n", extra_args=["--connect-ports", "443,%d" % nginx.https_port])
    r = peers.curl("-x", gw.proxy_url, "--cacert", certs.ca, nginx.https_url + "/")
    assert r.returncode == 0 and r.stdout == b"hello from nginx\n", r.stderr
    for port in (origin.port, 25, 8443):
        with peers.RawConn(gw.port) as c:
            c.send(connect_req("127.0.0.1:%d" % port))
            expect(read_connect(c), 403, "client_forbidden_port")
    # Plain HTTP requests are not CONNECT: the list does not apply to them.
    r = peers.curl("-x", gw.proxy_url, origin.url + "/plain")
    assert r.returncode == 0 and r.stdout.startswith(b"origin ok"), r.stderr


def test_bad_connect_ports_spec_refused_at_start(rotor_refused, run_dir):
    d = run_dir / "badports"
    d.mkdir(exist_ok=True)
    (d / "pool.txt").write_text("direct\n")
    for spec in ("0", "70000", "10-5", "https", "443;80"):
        rc, err = rotor_refused(["serve", "--listen", "127.0.0.1:%d" % peers.free_port(), "--pool", d / "pool.txt",
                                 "--connect-ports", spec])
        assert rc not in (None, 0), "rotor started with --connect-ports %r" % spec
        assert "--connect-ports" in err, err


# ---------------------------------------------------------------------------
# Loops


def test_request_to_own_listener_is_a_loop(rotor):
    gw = rotor("direct\n")
    for url, host in [("http://127.0.0.1:%d/x" % gw.port, "127.0.0.1:%d" % gw.port),
                      ("http://localhost:%d/x" % gw.port, "localhost:%d" % gw.port),
                      ("http://127.9.9.9:%d/x" % gw.port, "127.9.9.9:%d" % gw.port),
                      ("http://[::1]:%d/x" % gw.port, "[::1]:%d" % gw.port)]:
        resp = peers.raw_exchange(gw.port, ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (url, host)).encode())
        expect(resp, 508, "client_loop_detected", "proxy_loop_detected")
    with peers.RawConn(gw.port) as c:
        c.send(connect_req("127.0.0.1:%d" % gw.port))
        expect(read_connect(c), 508, "client_loop_detected", "proxy_loop_detected")


def test_pool_entry_naming_own_listener_refused(rotor, rotor_refused, run_dir, origin):
    d = run_dir / "selfpool"
    d.mkdir(exist_ok=True)
    port = peers.free_port()
    pool = d / "pool.txt"
    pool.write_text("http://u:SelfLoopPw1@127.0.0.1:%d #me\n" % port)
    rc, err = rotor_refused(["serve", "--listen", "127.0.0.1:%d" % port, "--pool", pool])
    assert rc not in (None, 0)
    assert "own listener" in err and "SelfLoopPw1" not in err, err
    # On reload the old pool stays.
    gw = rotor("direct\n")
    gw.write_pool("localhost:%d #me\n" % gw.port)
    gw.sighup()
    peers.wait_until(lambda: "own listener" in gw.stderr_text(), 5, gw.proc, "the reload to be refused")
    resp = peers.raw_exchange(gw.port, ("GET %s/x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                                        % (origin.url, origin.port)).encode())
    assert resp.status == 200


# ---------------------------------------------------------------------------
# --allow-clients


def conn_from(src, port):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(3)
    s.connect(("127.0.0.1", port))
    return s


def test_allow_clients_closes_others_at_accept(rotor, origin):
    gw = rotor("direct\n", extra_args=["--allow-clients", "127.0.0.1/32,::1"])
    req = ("GET %s/allowed HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (origin.url, origin.port)).encode()
    for _ in range(3):
        s = conn_from("127.0.0.2", gw.port)
        try:
            try:
                s.sendall(req)
                data = s.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            assert data == b"", "a client outside --allow-clients got an answer: %r" % data
        finally:
            s.close()
    s = conn_from("127.0.0.1", gw.port)
    try:
        s.sendall(req)
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        s.close()
    assert origin.stats("/allowed")["requests"] == 1
    peers.wait_until(lambda: "client_refused" in gw.log_text(), 5, gw.proc, "the refusal to be logged")
    assert "127.0.0.2" in gw.log_text()
    # Nothing from a refused client reaches the access log as a request.
    assert not [r for r in gw.log_records() if r.get("client", "").startswith("127.0.0.2")]
    gw.stop()
    assert "3 connections refused by --allow-clients" in gw.stderr_text()


def test_allow_clients_bad_spec_refused_at_start(rotor_refused, run_dir):
    d = run_dir / "badallow"
    d.mkdir(exist_ok=True)
    (d / "pool.txt").write_text("direct\n")
    for spec in ("10.0.0.1/8", "localhost", "127.0.0.1/33", ""):
        rc, err = rotor_refused(["serve", "--listen", "127.0.0.1:%d" % peers.free_port(), "--pool", d / "pool.txt",
                                 "--allow-clients", spec])
        assert rc not in (None, 0), spec
        assert "--allow-clients" in err, err


# ---------------------------------------------------------------------------
# Client authentication


def test_client_auth_required_for_connect_and_plain(rotor, nginx):
    gw = rotor("direct\n", auth="scraper:S3cret-client")
    good = "Proxy-Authorization: %s\r\n" % peers.basic("scraper", "S3cret-client")
    bad = "Proxy-Authorization: %s\r\n" % peers.basic("scraper", "S3cret-clienX")
    target = "127.0.0.1:%d" % nginx.http_port
    for extra in ("", bad, "Proxy-Authorization: Bearer x\r\n"):
        with peers.RawConn(gw.port) as c:
            c.send(connect_req(target, extra))
            resp = read_connect(c)
            expect(resp, 407, "client_auth_required")
            assert (resp.header("proxy-authenticate") or "").lower().startswith("basic")
        resp = peers.raw_exchange(gw.port, ("GET %s/ HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (nginx.url, target, extra)).encode())
        expect(resp, 407, "client_auth_required")
    with peers.RawConn(gw.port) as c:
        c.send(connect_req(target, good))
        assert read_connect(c).status == 200
        c.send(("GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % target).encode())
        assert c.read_response().body == b"hello from nginx\n"


# ---------------------------------------------------------------------------
# Secrets


def secret_forms(pairs):
    """Every form an upstream password could leak in: as is, percent-encoded
    (strict and lenient), base64 of user:pass (the Basic value) and of the
    password alone."""
    forms = set()
    for user, pw in pairs:
        forms.add(pw)
        forms.add(urllib.parse.quote(pw, safe=""))
        forms.add(urllib.parse.quote(pw))
        forms.add(base64.b64encode(("%s:%s" % (user, pw)).encode()).decode())
        forms.add(base64.b64encode(pw.encode()).decode())
    return forms


def test_upstream_secrets_never_shown(rotor, rotor_bin, lab, nginx, origin, certs):
    dead = peers.free_port()
    wrong = "Wr0ng-Leak-Check-42"
    lines = [
        lab.sq1.pool_line("alice"),
        lab.sq1.pool_line(WEIRD_USER),
        lab.sq2.pool_line(form="bare"),
        lab.tp1.pool_line(form="colon"),
        "http://alice:%s@127.0.0.1:%d #sq1-wrong" % (wrong, lab.sq1.port),
        "http://dead:%s@127.0.0.1:%d #dead" % (wrong + "-dead", dead),
        "127.0.0.1:%d:tpuser:%s #tp1-wrong" % (lab.tp1.port, wrong + "-tp"),
    ]
    pairs = [("alice", SQ1_USERS["alice"]), (WEIRD_USER, WEIRD_PASSWORD), ("bob", SQ2_USERS["bob"]),
             (TP1_USER, TP1_PASSWORD), ("alice", wrong), ("dead", wrong + "-dead"), ("tpuser", wrong + "-tp")]
    gw = rotor("\n".join(lines) + "\n", rotation="round-robin", extra_args=["--max-attempts", "2"])
    seen = []

    def keep(r):
        seen.append("%d %r\n%s" % (r.status_code, dict(r.headers), r.content.decode("latin-1")))

    with requests.Session() as s:
        s.trust_env = False
        s.proxies = gw.proxies
        for i in range(14):
            for hdrs in ({}, {"Accept": "application/json"}):
                keep(s.get("%s/status/%d" % (nginx.url, (200, 404, 500, 503)[i % 4]), headers=hdrs, timeout=TIMEOUT))
            keep(s.get("http://127.0.0.1:%d/dead-target" % dead, timeout=TIMEOUT))
            keep(s.post(origin.url + "/echo/secret", data=b"x" * 100, timeout=TIMEOUT))
            try:
                keep(s.get(nginx.https_url + "/", verify=str(certs.ca), timeout=TIMEOUT))
            except requests.RequestException as e:
                seen.append(str(e))
    # CONNECT failures: the proxy's refusal as rotor words it.
    for i in range(7):
        with peers.RawConn(gw.port) as c:
            c.send(connect_req("127.0.0.1:%d" % nginx.https_port, "Accept: application/json\r\n"))
            seen.append(read_connect(c).raw.decode("latin-1"))
    # A reload that fails on a line with credentials, then a good one.
    gw.write_pool("\n".join(lines) + "\nhttp://alice:%s@127.0.0.1:notaport\n" % wrong)
    gw.sighup()
    peers.wait_until(lambda: "reload_failed" in gw.stderr_text(), 5, gw.proc, "the failed reload")
    gw.write_pool("\n".join(lines) + "\n")
    gw.sighup()
    peers.wait_until(lambda: gw.stderr_text().count("pool_reloaded") >= 1, 5, gw.proc, "the reload")
    gw.wait_records(lambda r: True, 60)
    gw.stop()
    helps = []
    for args in (["serve", "--help"], ["--help"], ["serve", "--pool", gw.pool_path, "--bogus-flag"]):
        p = subprocess.run([rotor_bin, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        helps.append(p.stdout.decode("latin-1") + p.stderr.decode("latin-1"))
    haystacks = {"access log": gw.log_text(), "stderr": gw.stderr_text(), "responses": "\n".join(seen),
                 "--help and usage output": "\n".join(helps)}
    assert "serve" in haystacks["--help and usage output"]
    assert len(seen) >= 70 and any("X-Rotor-Error" in x or "x-rotor-error" in x for x in seen)
    for where, text in haystacks.items():
        for f in secret_forms(pairs):
            assert f not in text, "an upstream secret (form %r) appears in rotor's %s" % (f, where)
    # JSON error bodies (Accept: application/json) were among those checked.
    assert any("'X-Rotor-Error'" in x and "application/json" in x.split("\n", 1)[0] for x in seen)
