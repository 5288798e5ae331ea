"""The peers themselves, without rotor: each upstream proxy reaches nginx over
HTTP and HTTPS (CONNECT) with the right credentials and refuses wrong ones,
nginx and the origin serve what the gateway tests rely on."""
import hashlib
import uuid

import pytest
import requests

import peers
from conftest import WEIRD_PASSWORD, WEIRD_USER

NO_ENV_PROXY = {"http": None, "https": None}


def upstream_ids(lab):
    return [p.label for p in lab.upstreams]


@pytest.fixture(params=["sq1", "sq2", "tp1"])
def upstream(request, lab):
    return getattr(lab, request.param)


def test_http_through_upstream(upstream, nginx):
    tag = "peer-http-%s-%s" % (upstream.label, uuid.uuid4().hex[:8])
    r = peers.curl("-x", upstream.proxy_url(), "%s/tag/%s" % (nginx.url, tag), "-o", "-", "-w", "\n%{http_code}")
    assert r.returncode == 0, r.stderr
    body, code = r.stdout.decode().rsplit("\n", 1)
    assert code == "200"
    assert body == "nginx /tag/%s\n" % tag
    counts = peers.wait_counts([upstream], tag, 1)
    assert counts == {upstream.label: 1}
    assert nginx.wait_count(tag, 1) == 1


def test_https_connect_through_upstream(upstream, nginx, certs):
    r = peers.curl("-x", upstream.proxy_url(), "--cacert", certs.ca, nginx.https_url + "/", "-o", "-",
                   "-w", "\n%{http_code}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "hello from nginx\n\n200"
    assert upstream.wait_line(lambda line: "CONNECT" in line and ":%d" % nginx.https_port in line)


def test_https_hostname_verified(upstream, nginx, certs):
    """The server certificate also names localhost (curl resolves it via
    /etc/hosts on loopback) and chains to the test CA only."""
    r = peers.curl("-x", upstream.proxy_url(), nginx.https_url + "/")
    assert r.returncode != 0  # unknown CA without --cacert
    r = peers.curl("-x", upstream.proxy_url(), "--cacert", certs.ca, "--connect-to",
                   "localhost:%d:127.0.0.1:%d" % (nginx.https_port, nginx.https_port),
                   "https://localhost:%d/" % nginx.https_port)
    assert r.returncode == 0, r.stderr


def test_squid_wrong_credentials_407(lab, nginx):
    for sq in (lab.sq1, lab.sq2):
        user = next(iter(sq.users))
        for creds in ([], ["-U", "%s:wrong" % user], ["-U", "nobody:x"]):
            r = peers.curl("-x", "http://127.0.0.1:%d" % sq.port, *creds, nginx.url + "/", "-o", "/dev/null",
                           "-D", "-")
            head = r.stdout.decode("latin-1")
            assert head.startswith("HTTP/1.1 407"), head
            assert "Proxy-Authenticate: Basic" in head


def test_squid_connect_wrong_credentials_407(sq1, nginx, certs):
    r = peers.curl("-v", "-x", "http://127.0.0.1:%d" % sq1.port, "-U", "alice:wrong", "--cacert", certs.ca,
                   nginx.https_url + "/")
    assert r.returncode != 0
    assert "407" in r.stderr.decode("latin-1")


def test_tinyproxy_credentials(tp1, nginx):
    """Missing credentials: 407. Wrong credentials: tinyproxy 1.11 answers
    401 with WWW-Authenticate (not 407), a quirk the gateway's classifier
    must treat as a proxy authentication failure."""
    r = peers.curl("-x", "http://127.0.0.1:%d" % tp1.port, nginx.url + "/", "-o", "/dev/null", "-D", "-")
    head = r.stdout.decode("latin-1")
    assert head.startswith("HTTP/1.0 407"), head
    assert "Proxy-Authenticate: Basic" in head
    r = peers.curl("-x", "http://127.0.0.1:%d" % tp1.port, "-U", "carol:wrong", nginx.url + "/",
                   "-o", "/dev/null", "-D", "-")
    head = r.stdout.decode("latin-1")
    assert head.startswith("HTTP/1.0 401"), head
    assert "WWW-Authenticate: Basic" in head


def test_squid_password_with_reserved_characters(sq1, nginx):
    r = peers.curl("-x", "http://127.0.0.1:%d" % sq1.port, "-U", "%s:%s" % (WEIRD_USER, WEIRD_PASSWORD),
                   nginx.url + "/", "-o", "-")
    assert r.returncode == 0 and r.stdout == b"hello from nginx\n", r.stderr
    # The percent-encoded form, as it is written in a pool file.
    r = requests.get(nginx.url + "/", proxies={"http": sq1.proxy_url(WEIRD_USER)}, timeout=10)
    assert r.status_code == 200
    assert "%40" in sq1.proxy_url(WEIRD_USER) and "%3A" in sq1.proxy_url(WEIRD_USER)


def test_proxy_identity_headers(lab, nginx):
    """squid announces itself (Via, X-Forwarded-For); tinyproxy is set up not
    to, so it can carry the gateway's no-leak test."""
    r = requests.get(nginx.url + "/echo", proxies={"http": lab.sq1.proxy_url()}, timeout=10)
    assert "via=1.1 sq1.rotor.test" in r.text and "xff=127.0.0.1" in r.text and "exit=sq1" in r.text
    r = requests.get(nginx.url + "/echo", proxies={"http": lab.tp1.proxy_url()}, timeout=10)
    assert "via= " in r.text and "xff= " in r.text and "exit=tp1" in r.text, r.text


def test_nginx_locations(nginx, origin):
    s = requests.Session()
    s.trust_env = False
    r = s.get(nginx.url + "/1k", timeout=10)
    assert r.status_code == 200 and len(r.content) == 1024
    r = s.head(nginx.url + "/big", timeout=10)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == peers.BIG_SIZE
    for code in (403, 429, 503):
        assert s.get("%s/status/%d" % (nginx.url, code), timeout=10).status_code == code
    r = s.get(nginx.url + "/chunked", timeout=10)
    assert r.headers.get("Transfer-Encoding") == "chunked"
    assert r.text == nginx.chunked_body
    body = b"a" * 300000
    r = s.post(nginx.url + "/post", data=body, timeout=10)
    doc = r.json()
    assert doc["body_len"] == len(body) and doc["sha256"] == hashlib.sha256(body).hexdigest()


def test_nginx_https_direct(nginx, certs):
    r = requests.get(nginx.https_url + "/1k", verify=str(certs.ca), timeout=10, proxies=NO_ENV_PROXY)
    assert r.status_code == 200 and len(r.content) == 1024


def test_origin_echo_chunked_upload(origin):
    parts = [b"x" * 1000, b"y" * 70000, b"z"]
    r = requests.post(origin.url + "/echo", data=iter(parts), timeout=10, proxies=NO_ENV_PROXY)
    doc = r.json()
    whole = b"".join(parts)
    assert doc["chunked"] is True
    assert doc["body_len"] == len(whole) and doc["sha256"] == hashlib.sha256(whole).hexdigest()


def test_origin_chunked_download(origin):
    with peers.RawConn(origin.port) as c:
        for _ in range(2):  # keep-alive: the chunked framing is consumed exactly
            c.send(b"GET /chunked?size=5000 HTTP/1.1\r\nHost: x\r\n\r\n")
            resp = c.read_response()
            assert resp.status == 200 and resp.header("transfer-encoding") == "chunked"
            assert len(resp.body) == 5000 and hashlib.sha256(resp.body).hexdigest() == resp.header("x-body-sha256")
        c.send(b"GET /status/404 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert c.read_response().status == 404
        assert c.closed_by_peer()
    r = requests.get(origin.url + "/chunked", params={"size": 300001}, timeout=10, proxies=NO_ENV_PROXY)
    assert len(r.content) == 300001 == int(r.headers["X-Body-Len"])
    assert hashlib.sha256(r.content).hexdigest() == r.headers["X-Body-Sha256"]


def test_origin_counts_connections(origin):
    tag = "conn-" + uuid.uuid4().hex[:8]
    s = requests.Session()
    s.trust_env = False
    for i in range(5):
        assert s.get("%s/tag/%s/%d" % (origin.url, tag, i), timeout=5).status_code == 200
    requests.get("%s/tag/%s/x" % (origin.url, tag), timeout=5, proxies=NO_ENV_PROXY)
    assert origin.stats(tag) == {"requests": 6, "connections": 2}


def test_squid_logs_client_ports(sq1, nginx):
    tag = "ports-" + uuid.uuid4().hex[:8]
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"http": sq1.proxy_url()}
    for i in range(4):
        assert s.get("%s/tag/%s/%d" % (nginx.url, tag, i), timeout=5).status_code == 200
    peers.wait_counts([sq1], tag, 4)
    assert len(sq1.client_ports(tag)) == 1
    assert sq1.count(tag) == 4
