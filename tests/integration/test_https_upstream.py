"""https:// upstream proxies: rotor speaks TLS to the proxy, verifies its
certificate, and plain HTTP proxy protocol inside (absolute-form requests
and CONNECT). The proxies are `rotor lab --proxy-tls` ones, whose
certificate comes from the lab's own CA (lab-ca.pem next to the pool file),
so verification fails unless rotor is given that CA with --upstream-ca."""
import json
import re
import socket
import ssl
import time
from pathlib import Path

import pytest
import requests

from simlab import start_lab, stop_lab

# A password that must never show up in rotor's stderr, log or replies.
SECRET_PASS = "Tls-Pw-7q9Z"
USER = "tlsuser"


@pytest.fixture
def tlslab(tmp_path):
    labs = []

    def make(*args, **kw):
        st = start_lab(tmp_path, "--user", USER, "--pass", SECRET_PASS, *args, name="lab%d" % len(labs), **kw)
        labs.append(st)
        return st

    yield make
    for st in labs:
        if "_stopped" not in st:
            rc, _, err = stop_lab(st)
            assert rc == 0, err


def stop_and_stats(st):
    """Stop the lab; per proxy label: (connections, requests) from its summary."""
    rc, out, err = stop_lab(st)
    st["_stopped"] = True
    assert rc == 0, err
    stats = {}
    for m in re.finditer(r"(?m)^\s+\d+\s+(lab-p\d+)\s+(\d+)\s+(\d+)\s+", out):
        stats[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    assert stats, out
    return stats


def session(g):
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"http": g.proxy_url, "https": g.proxy_url}
    return s


def pool_of(st):
    return Path(st["pool_file"]).read_text()


def no_secret(g, *texts):
    """The upstream password is nowhere: stderr, log, given texts."""
    for t in (g.stderr_text(), g.log_text()) + texts:
        assert SECRET_PASS not in t
        assert "VGxzLVB3LTdxOVo" not in t  # nor its base64 form


def records(g, n):
    recs = g.wait_records(lambda r: "event" not in r, n, timeout=10)
    return [r for r in recs if "event" not in r]


def test_lab_writes_https_entries_and_serves_tls(tlslab):
    st = tlslab("--proxies", "2", "--proxy-tls")
    lines = [l for l in pool_of(st).splitlines() if not l.startswith("#")]
    assert len(lines) == 2
    for i, line in enumerate(lines):
        assert line == "https://%s:%s@127.0.0.1:%d #lab-p%d" % (USER, SECRET_PASS, st["proxies"][i]["port"], i + 1)
        assert st["proxies"][i]["tls"] is True
        assert st["proxies"][i]["url"].startswith("https://")
    # The port really speaks TLS, with a certificate from the lab CA for 127.0.0.1.
    ctx = ssl.create_default_context(cafile=st["ca_file"])
    with socket.create_connection(("127.0.0.1", st["proxies"][0]["port"]), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
            t.sendall(b"GET http://ok.lab/ip HTTP/1.1\r\nHost: ok.lab\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                try:
                    b = t.recv(65536)
                except (ssl.SSLError, OSError):
                    break  # the lab closes without close_notify
                if not b:
                    break
                data += b
    assert data.startswith(b"HTTP/1.1 407"), data[:200]


def test_get_and_connect_through_an_https_proxy(tlslab, rotor):
    st = tlslab("--proxies", "1", "--proxy-tls")
    g = rotor(pool_of(st), extra_args=["--upstream-ca", st["ca_file"]])
    with session(g) as s:
        r = s.get("http://ok.lab/ip", timeout=10)
        assert r.status_code == 200, r.text
        assert r.json() == {"ip": "10.77.0.1"}
        assert r.headers.get("X-Rotor-Origin") == "target"
        # CONNECT through the TLS hop, then the client's own TLS with the
        # HTTPS target inside it (verified with the same lab CA).
        r = s.get("https://ok.lab/ip", timeout=10, verify=st["ca_file"])
        assert r.status_code == 200, r.text
        assert r.json() == {"ip": "10.77.0.1"}
        # A body larger than the splice threshold comes through intact:
        # TLS hops never splice their socket.
        r = s.get("http://ok.lab/bytes/600000", timeout=20)
        assert r.status_code == 200 and len(r.content) == 600000
        r = s.get("https://ok.lab/bytes/700000", timeout=20, verify=st["ca_file"])
        assert r.status_code == 200 and len(r.content) == 700000
    # Two plain GETs and one CONNECT (the session keeps its tunnel for both
    # https:// GETs; the tunnel is logged when it closes).
    recs = records(g, 3)
    assert sorted(r["method"] for r in recs) == ["CONNECT", "GET", "GET"], recs
    assert [r["code"] for r in recs] == ["ok"] * 3, recs
    assert all(a["upstream"] == "lab-p1" for r in recs for a in r["attempts"])
    tunnel = [r for r in recs if r["method"] == "CONNECT"][0]
    assert tunnel["bytes_out"] > 700000, tunnel
    no_secret(g)


def test_keep_alive_reuses_the_tls_connection(tlslab, rotor):
    st = tlslab("--proxies", "1", "--proxy-tls")
    g = rotor(pool_of(st), extra_args=["--upstream-ca", st["ca_file"], "--threads", "1"])
    n = 6
    with session(g) as s:
        for i in range(n):
            r = s.get("http://ok.lab/1k?i=%d" % i, timeout=10)
            assert r.status_code == 200 and len(r.content) == 1024
    records(g, n)
    conns, reqs = stop_and_stats(st)["lab-p1"]
    assert reqs == n
    assert conns == 1, "every request should reuse the one TLS connection, saw %d connections" % conns


def test_http_and_https_entries_on_one_port_never_share_a_connection(tlslab, rotor):
    """Two entries for the same host:port, one http:// and one https://:
    the pooled TLS connection must not serve the plain entry's requests
    (nor the other way round), so the http:// entry fails TLS-less."""
    st = tlslab("--proxies", "1", "--proxy-tls")
    port = st["proxies"][0]["port"]
    pool = "https://%s:%s@127.0.0.1:%d #tls\nhttp://%s:%s@127.0.0.1:%d #plain\n" % (
        USER, SECRET_PASS, port, USER, SECRET_PASS, port)
    g = rotor(pool, extra_args=["--upstream-ca", st["ca_file"], "--threads", "1", "--max-attempts", "1",
                                "--read-timeout", "1500", "--rotation", "round-robin"])
    with session(g) as s:
        codes = []
        for i in range(4):
            r = s.get("http://ok.lab/ip?i=%d" % i, timeout=10)
            codes.append((r.status_code, r.headers.get("X-Rotor-Error")))
    recs = records(g, 4)
    by_entry = {}
    for r in recs:
        by_entry.setdefault(r["attempts"][0]["upstream"], []).append(r["code"])
    # Every request through the TLS entry works; the plain one never does
    # (it sends plain HTTP to a TLS port), whatever the TLS entry parked.
    assert set(by_entry["tls"]) == {"ok"}, recs
    assert "ok" not in by_entry.get("plain", []), recs
    no_secret(g)


def test_untrusted_certificate_is_proxy_tls_failed_with_the_reason(tlslab, rotor):
    st = tlslab("--proxies", "1", "--proxy-tls")
    g = rotor(pool_of(st), extra_args=["--max-attempts", "1"])
    with session(g) as s:
        r = s.get("http://ok.lab/ip", timeout=10)
        assert r.status_code == 502, r.text
        assert r.headers["X-Rotor-Error"] == "proxy_tls_failed"
        assert r.headers["X-Rotor-Origin"] == "network"
        assert "certificate verify failed" in r.text, r.text
        assert "TLS handshake with proxy 127.0.0.1:%d failed" % st["proxies"][0]["port"] in r.text, r.text
        assert "--upstream-ca" in r.text, r.text
        # CONNECT fails the same way, before the client gets its 200.
        with pytest.raises(requests.exceptions.ProxyError):
            s.get("https://ok.lab/ip", timeout=10, verify=st["ca_file"])
    recs = records(g, 2)
    assert recs[0]["code"] == "proxy_tls_failed", recs
    assert "certificate verify failed" in recs[0]["attempts"][0]["evidence"], recs[0]
    # The entry is quarantined by then (a fix-class failure) or fails again.
    assert recs[1]["code"] in ("proxy_tls_failed", "no_healthy_upstream"), recs[1]
    # Nothing was sent to the proxy: it saw connections, never a request.
    stats = stop_and_stats(st)
    assert stats["lab-p1"][1] == 0, stats
    no_secret(g, r.text)


def hosts_names():
    """name -> set of addresses, from /etc/hosts."""
    names = {}
    try:
        text = Path("/etc/hosts").read_text()
    except OSError:
        return names
    for line in text.splitlines():
        f = line.split("#", 1)[0].split()
        for name in f[1:]:
            names.setdefault(name.lower(), set()).add(f[0])
    return names


def test_certificate_must_name_the_entry_host(tlslab, rotor):
    """The lab certificate names 127.0.0.1 and localhost. An entry written
    with another name for 127.0.0.1 (from /etc/hosts) is refused even with
    the right CA; written as localhost (SNI and name check) it verifies."""
    names = hosts_names()
    other = sorted(n for n, a in names.items() if a == {"127.0.0.1"} and n != "localhost" and "." not in n)
    st = tlslab("--proxies", "1", "--proxy-tls")
    port = st["proxies"][0]["port"]
    ran = False
    if other:
        g = rotor("https://%s:%s@%s:%d\n" % (USER, SECRET_PASS, other[0], port),
                  extra_args=["--upstream-ca", st["ca_file"], "--max-attempts", "1"])
        with session(g) as s:
            r = s.get("http://ok.lab/ip", timeout=10)
        assert r.headers.get("X-Rotor-Error") == "proxy_tls_failed", r.text
        assert "hostname mismatch" in r.text, r.text
        ran = True
    if names.get("localhost") == {"127.0.0.1"}:
        g2 = rotor("https://%s:%s@localhost:%d\n" % (USER, SECRET_PASS, port),
                   extra_args=["--upstream-ca", st["ca_file"], "--max-attempts", "1"])
        with session(g2) as s:
            r = s.get("http://ok.lab/ip", timeout=10)
        assert r.status_code == 200, r.text
        ran = True
    if not ran:
        pytest.skip("/etc/hosts has no IPv4-only name for 127.0.0.1")


def test_upstream_insecure_skips_verification_with_a_warning(tlslab, rotor):
    st = tlslab("--proxies", "1", "--proxy-tls")
    g = rotor(pool_of(st), extra_args=["--upstream-insecure"])
    assert "--upstream-insecure" in g.stderr_text() and "not verified" in g.stderr_text()
    with session(g) as s:
        r = s.get("http://ok.lab/ip", timeout=10)
        assert r.status_code == 200, r.text
        r = s.get("https://ok.lab/ip", timeout=10, verify=st["ca_file"])
        assert r.status_code == 200, r.text
    no_secret(g)


def test_https_entry_on_a_plain_port_fails_fast_with_a_fix(tlslab, rotor):
    st = tlslab("--proxies", "1")  # plain HTTP proxy
    port = st["proxies"][0]["port"]
    g = rotor("https://%s:%s@127.0.0.1:%d\n" % (USER, SECRET_PASS, port),
              extra_args=["--max-attempts", "1", "--connect-timeout", "3000"])
    t0 = time.monotonic()
    with session(g) as s:
        r = s.get("http://ok.lab/ip", timeout=15)
    took = time.monotonic() - t0
    assert r.status_code == 502, r.text
    assert r.headers["X-Rotor-Error"] == "proxy_tls_failed", r.text
    assert "TLS handshake with proxy 127.0.0.1:%d failed" % port in r.text, r.text
    assert "write the entry as http://" in r.text, r.text
    assert took < 3.5, "took %.1f s: a plain port must not hang the handshake past the connect timeout" % took
    no_secret(g, r.text)


def test_refused_https_entry_is_a_refused_connect_not_a_tls_failure(rotor):
    """The TLS bufferevent reports the TCP connect and the handshake as one
    step: a port nobody listens on must still be proxy_refused."""
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening: ECONNREFUSED
    try:
        port = dead.getsockname()[1]
        g = rotor("https://%s:%s@127.0.0.1:%d\n" % (USER, SECRET_PASS, port),
                  extra_args=["--max-attempts", "1", "--upstream-insecure"])
        with session(g) as s:
            r = s.get("http://ok.lab/ip", timeout=10)
        assert r.headers.get("X-Rotor-Error") == "proxy_refused", r.text
        assert "ECONNREFUSED" in r.text, r.text
        no_secret(g, r.text)
    finally:
        dead.close()


def test_bad_upstream_ca_file_is_refused_at_start(tmp_path, rotor_refused):
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("hello\n")
    pool = tmp_path / "pool.txt"
    pool.write_text("https://u:p@127.0.0.1:9\n")
    rc, err = rotor_refused(["serve", "--listen", "127.0.0.1:1", "--pool", pool, "--upstream-ca", bad])
    assert rc == 1, err
    assert "--upstream-ca" in err and str(bad) in err, err


def test_config_file_accepts_the_tls_settings(tlslab, rotor, tmp_path):
    st = tlslab("--proxies", "1", "--proxy-tls")
    conf = tmp_path / "rotor.conf"
    conf.write_text("upstream-ca %s\n" % st["ca_file"])
    g = rotor(pool_of(st), extra_args=["--config", conf])
    with session(g) as s:
        assert s.get("http://ok.lab/ip", timeout=10).status_code == 200


def test_health_checks_go_through_the_tls_hop(tlslab, rotor):
    st = tlslab("--proxies", "2", "--proxy-tls")
    good = rotor(pool_of(st), extra_args=["--upstream-ca", st["ca_file"], "--health-check", "http://ok.lab/ip",
                                          "--health-interval", "200"])
    bad = rotor(pool_of(st), extra_args=["--health-check", "http://ok.lab/ip", "--health-interval", "200"])
    deadline = time.time() + 10
    while time.time() < deadline and bad.stderr_text().count("health_check_failed") < 2:
        time.sleep(0.1)
    assert bad.stderr_text().count("health_check_failed") == 2, bad.stderr_text()
    assert "proxy_tls_failed" in bad.stderr_text()
    time.sleep(0.6)  # a few rounds for the good one
    assert "health_check_failed" not in good.stderr_text(), good.stderr_text()
    no_secret(good)
    no_secret(bad)


def diagnose_json(*args):
    import subprocess
    from simlab import ROTOR, NO_PROXY_ENV
    p = subprocess.run([ROTOR, "diagnose", *[str(a) for a in args], "--json"], capture_output=True, text=True,
                       timeout=40, env=NO_PROXY_ENV)
    assert "AddressSanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    assert SECRET_PASS not in p.stdout and SECRET_PASS not in p.stderr
    return p.returncode, json.loads(p.stdout)


def test_diagnose_does_the_tls_handshake_at_step_1(tlslab):
    st = tlslab("--proxies", "1", "--proxy-tls")
    port = st["proxies"][0]["port"]
    url = "https://%s:%s@127.0.0.1:%d" % (USER, SECRET_PASS, port)
    ref = "http://127.0.0.1:%d/ip" % st["targets"]["http_port"]
    rc, doc = diagnose_json(url, "--reference", ref, "--ca-file", st["ca_file"], "--samples", 2)
    assert rc == 0, json.dumps(doc, indent=1)
    s1 = doc["steps"][0]
    assert s1["status"] == "pass" and "accepts TLS connections" in s1["summary"], s1
    assert "TLS handshake" in s1["summary"], s1
    assert doc["exit_ip"] == "10.77.0.1"
    assert doc["proxy"] == "https://%s:****@127.0.0.1:%d" % (USER, port)

    # The lab CA is not in the system store: without --ca-file step 1 fails.
    rc, doc = diagnose_json(url, "--reference", ref)
    assert rc == 11, json.dumps(doc, indent=1)
    s1 = doc["steps"][0]
    assert s1["status"] == "fail" and s1["code"] == "proxy_tls_failed", s1
    assert "certificate verify failed" in s1["summary"], s1
    assert any("--ca-file" in h for h in s1.get("hints", [])) or "--ca-file" in json.dumps(doc), doc


def test_admin_api_marks_tls_entries(tlslab, rotor):
    import urllib.request
    st = tlslab("--proxies", "1", "--proxy-tls")
    port = st["proxies"][0]["port"]
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    admin_port = s.getsockname()[1]
    s.close()
    pool = pool_of(st) + "http://%s:%s@127.0.0.1:%d #plain\n" % (USER, SECRET_PASS, port)
    g = rotor(pool, extra_args=["--upstream-ca", st["ca_file"], "--admin", "127.0.0.1:%d" % admin_port])
    body = ""
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/upstreams" % admin_port, timeout=5) as r:
                body = r.read().decode()
            break
        except OSError:
            time.sleep(0.1)
    doc = json.loads(body)
    tls = {u["label"]: u["tls"] for u in doc["upstreams"]}
    assert tls == {"lab-p1": True, "plain": False}, doc
    assert SECRET_PASS not in body
    no_secret(g)


def test_reload_can_bring_the_first_https_entry(tlslab, rotor):
    """The TLS context is made when a pool first needs it, also on SIGHUP;
    verification is on from that first use."""
    plain = tlslab("--proxies", "1")
    tls = tlslab("--proxies", "1", "--proxy-tls")
    g = rotor(pool_of(plain), extra_args=["--max-attempts", "1"])
    with session(g) as s:
        assert s.get("http://ok.lab/ip", timeout=10).status_code == 200
    g.write_pool(pool_of(tls))
    g.sighup()
    deadline = time.time() + 5
    while time.time() < deadline and "pool_reloaded" not in g.stderr_text():
        time.sleep(0.05)
    assert "pool_reloaded" in g.stderr_text(), g.stderr_text()
    with session(g) as s:
        r = s.get("http://ok.lab/ip", timeout=10)
    assert r.headers.get("X-Rotor-Error") == "proxy_tls_failed", r.text
    assert "certificate verify failed" in r.text, r.text
    no_secret(g, r.text)


def test_real_tls_front_end_before_squid(rotor, sq1, nginx, certs, tmp_path):
    """Another implementation on the other side: haproxy terminates TLS
    (certificate from the session's test CA) in front of squid, the way
    providers put TLS in front of their proxies."""
    import subprocess
    import sys
    from urllib.parse import quote
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import peers
    from conftest import SQ1_USERS
    combined = tmp_path / "proxy.pem"
    combined.write_text(Path(certs.cert).read_text() + Path(certs.key).read_text())
    port = peers.free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"
                   "frontend tls\n  bind 127.0.0.1:%d ssl crt %s\n  default_backend squid\n"
                   "backend squid\n  server s1 127.0.0.1:%d\n" % (port, combined, sq1.port))
    log = open(tmp_path / "haproxy.log", "w")
    hap = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not peers.port_open(port):
            assert hap.poll() is None, (tmp_path / "haproxy.log").read_text()
            time.sleep(0.05)
        pw = SQ1_USERS["alice"]
        g = rotor("https://alice:%s@127.0.0.1:%d #hap\n" % (quote(pw, safe=""), port),
                  extra_args=["--upstream-ca", certs.ca, "--threads", "1"])
        with session(g) as s:
            for _ in range(3):
                r = s.get(nginx.url + "/1k", timeout=10)
                assert r.status_code == 200 and r.content == b"x" * 1023 + b"\n"
            r = s.get(nginx.https_url + "/", timeout=10, verify=str(certs.ca))
            assert r.status_code == 200 and r.text == "hello from nginx\n"
        recs = records(g, 4)
        assert [r["code"] for r in recs] == ["ok"] * 4, recs
        for t in (g.stderr_text(), g.log_text()):
            assert pw not in t
    finally:
        hap.terminate()
        hap.wait(10)
        log.close()
