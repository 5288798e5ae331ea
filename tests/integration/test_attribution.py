"""Know where it broke: every failure the lab can produce, and the real
errors of squid and tinyproxy, go through rotor and come out with the right
X-Rotor-Error (CODE), X-Rotor-Origin, generated headers and log record.

One attempt per request (--max-attempts 1) so each test sees the raw
classification of one hop rather than the healed result."""
import json

import pytest
import requests

from simlab import start_lab, stop_lab

BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Accept": "text/html", "Accept-Language": "en-US",
}

# A scenario per proxy fault; every target fault lives on its own host.
TARGETS = """
target bans.lab ban_after=1 page=cloudflare
target challenge.lab ban_after=1 page=challenge
target dd.lab ban_after=1 page=datadome
target plain.lab ban_after=1 page=plain
target ratelimit.lab rate=1/3s
target busy.lab err503=1
target down.lab down
"""


@pytest.fixture
def simlab(tmp_path):
    labs = []

    def make(proxy_fault="ok"):
        st = start_lab(tmp_path, scenario_text="proxies 1\nproxy 1 %s\n%s" % (proxy_fault, TARGETS),
                       name="lab%d" % len(labs))
        labs.append(st)
        return st

    yield make
    for st in labs:
        rc, _, err = stop_lab(st)
        assert rc == 0, err


def through(g, url, headers=None, **kw):
    s = requests.Session()
    s.trust_env = False
    with s:
        return s.get(url, proxies={"http": g.proxy_url, "https": g.proxy_url}, timeout=15,
                     headers=headers or {}, **kw)


def last_record(g, n=1):
    """The n-th request record (the log is written by a thread: wait for it)."""
    recs = g.wait_records(lambda r: "event" not in r, n)
    return [r for r in recs if "event" not in r][n - 1]


def assert_generated(r, code, origin, status, proxy_status):
    assert r.status_code == status, r.text
    assert r.headers["X-Rotor-Error"] == code
    assert r.headers["X-Rotor-Origin"] == origin
    assert r.headers["Via"] == "1.1 rotor"
    assert r.headers["X-Rotor-Attempts"] == "1"
    assert r.headers["Proxy-Status"].startswith("rotor; error=%s" % proxy_status)
    assert "fix:" in r.text and code in r.text


# (proxy fault, host, code, origin, status rotor answers, Proxy-Status type, evidence fragment)
PROXY_CASES = [
    ("bad_auth style=squid", "ok.lab", "proxy_auth_failed", "proxy", 502, "proxy_configuration_error",
     "X-Squid-Error: ERR_CACHE_ACCESS_DENIED"),
    ("refused", "ok.lab", "proxy_refused", "network", 502, "connection_refused", "ECONNREFUSED"),
    ("quota style=brd", "ok.lab", "proxy_quota_exceeded", "proxy", 502, "proxy_configuration_error",
     "x-brd-err-code"),
    ("err502 style=brd", "ok.lab", "proxy_overloaded", "proxy", 503, "proxy_internal_error", "x-brd-error"),
    ("err502 style=rfc9209", "ok.lab", "proxy_error", "proxy", 502, "proxy_internal_error", "Proxy-Status"),
    ("err502 style=squid", "ok.lab", "target_reset", "network", 502, "connection_terminated", "ERR_READ_ERROR"),
    ("err504 style=squid", "ok.lab", "target_timeout", "network", 504, "http_response_timeout",
     "ERR_READ_TIMEOUT"),
    ("ok", "down.lab", "target_refused", "network", 502, "connection_refused", "ERR_CONNECT_FAIL"),
    ("ok", "nosuch.lab", "target_dns_failed", "network", 502, "dns_error", "ERR_DNS_FAIL"),
]


@pytest.mark.parametrize("fault,host,code,origin,status,ptype,evidence", PROXY_CASES,
                         ids=[c[0].split()[0] + "-" + c[0].split()[-1].split("=")[-1] + "-" + c[1] for c in PROXY_CASES])
def test_generated_failures_name_hop_and_cause(simlab, rotor, fault, host, code, origin, status, ptype, evidence):
    st = simlab(fault)
    g = rotor(open(st["pool_file"]).read(), extra_args=["--max-attempts", "1"])
    r = through(g, "http://%s/" % host, BROWSER)
    assert_generated(r, code, origin, status, ptype)
    rec = last_record(g)
    assert rec["code"] == code and rec["origin"] == origin and rec["status"] == status
    assert evidence in rec["evidence"], rec
    assert rec["attempts"][0]["upstream"] == "lab-p1" and rec["attempts"][0]["code"] == code


def test_blackholed_proxy_is_a_read_timeout(simlab, rotor):
    st = simlab("blackhole")
    g = rotor(open(st["pool_file"]).read(), extra_args=["--max-attempts", "1", "--read-timeout", "800"])
    r = through(g, "http://ok.lab/", BROWSER)
    assert_generated(r, "proxy_read_timeout", "network", 504, "http_response_timeout")
    assert "800 ms" in last_record(g)["evidence"]


# (host, code, status, evidence fragment): the target's answer passes through, flagged
TARGET_CASES = [
    ("bans.lab", "target_blocked", 403, "cloudflare"),
    ("challenge.lab", "target_challenge", 403, "cf-mitigated"),
    ("dd.lab", "target_challenge", 403, "datadome"),
    ("plain.lab", "target_blocked", 403, "status 403"),
    ("ratelimit.lab", "target_rate_limited", 429, "429"),
    ("busy.lab", "target_rate_limited", 503, "nginx"),
]


@pytest.mark.parametrize("host,code,status,evidence", TARGET_CASES, ids=[c[0] for c in TARGET_CASES])
def test_target_answers_pass_through_flagged(simlab, rotor, host, code, status, evidence):
    st = simlab()
    g = rotor(open(st["pool_file"]).read(), extra_args=["--max-attempts", "1"])
    through(g, "http://%s/" % host, BROWSER)  # the first request of an exit is allowed
    r = through(g, "http://%s/" % host, {"User-Agent": "python-requests/2.31"})
    assert r.status_code == status
    assert r.headers["X-Rotor-Error"] == code
    assert r.headers["X-Rotor-Origin"] == "target"
    assert "Via" not in r.headers or "rotor" not in r.headers["Via"]  # the target's own page
    assert r.headers.get("X-Lab-Fault")  # ground truth: the lab generated this fault
    assert "tool (python-requests)" in r.headers["X-Rotor-Hint"]
    rec = last_record(g, 2)
    assert rec["code"] == code and rec["origin"] == "target" and rec["status"] == status
    assert evidence.lower() in rec["evidence"].lower(), rec
    if status == 429:
        assert r.headers["Retry-After"].isdigit()


def test_ok_passes_through_unflagged(simlab, rotor):
    st = simlab()
    g = rotor(open(st["pool_file"]).read())
    r = through(g, "http://ok.lab/ip", BROWSER)
    assert r.status_code == 200
    assert r.headers["X-Rotor-Origin"] == "target" and r.headers["X-Rotor-Attempts"] == "1"
    assert "X-Rotor-Error" not in r.headers and "X-Rotor-Hint" not in r.headers
    assert json.loads(r.text)["ip"] == "10.77.0.1"


def test_json_error_body_when_asked(simlab, rotor):
    st = simlab("refused")
    g = rotor(open(st["pool_file"]).read(), extra_args=["--max-attempts", "1"])
    r = through(g, "http://ok.lab/", {"Accept": "application/json"})
    body = r.json()
    assert body["error"] == "proxy_refused" and body["origin"] == "network" and body["class"] == "fix"
    assert "ECONNREFUSED" in body["evidence"] and body["fix"] and body["where"].startswith("upstream lab-p1")


def test_connect_refused_by_proxy_is_attributed_before_the_tunnel(simlab, rotor):
    st = simlab("bad_auth style=brd")
    g = rotor(open(st["pool_file"]).read(), extra_args=["--max-attempts", "1"])
    s = requests.Session()
    s.trust_env = False
    with pytest.raises(requests.exceptions.ProxyError) as e:
        s.get("https://ok.lab/", proxies={"https": g.proxy_url}, timeout=10, verify=st["ca_file"])
    assert "502" in str(e.value)
    rec = last_record(g)
    assert rec["method"] == "CONNECT" and rec["code"] in ("proxy_auth_failed", "proxy_auth_required")
    assert rec["origin"] == "proxy"


def test_auth_hint_names_the_entry_problem(simlab, rotor):
    st = simlab("bad_auth")
    port = st["proxies"][0]["port"]
    g = rotor("http://lab:@127.0.0.1:%d #emptypw\n" % port, extra_args=["--max-attempts", "1"])
    r = through(g, "http://ok.lab/")
    assert r.headers["X-Rotor-Error"] in ("proxy_auth_failed", "proxy_auth_required")
    assert "emptypw has an empty password" in r.text


# ---- real peers producing their real errors ----

def test_squid_dead_target_is_a_network_failure(lab, rotor, sq1):
    from peers import free_port
    g = rotor(sq1.pool_line() + "\n", extra_args=["--max-attempts", "1"])
    r = through(g, "http://127.0.0.1:%d/" % free_port())
    assert r.headers["X-Rotor-Error"] in ("target_refused", "target_unreachable")
    assert r.headers["X-Rotor-Origin"] == "network"
    assert "X-Squid-Error" in last_record(g)["evidence"]


def test_squid_unresolvable_host_is_target_dns(lab, rotor, sq1):
    # squid resolves through the session's NxDns on a loopback address,
    # which answers NXDOMAIN (see peers.py): nothing leaves the machine.
    if not lab.dns.ok:
        pytest.fail("no loopback address could bind UDP port 53: cannot give squid a local resolver")
    g = rotor(sq1.pool_line() + "\n", extra_args=["--max-attempts", "1"])
    r = through(g, "http://nonexistent.invalid/")
    # squid 5.7 words an NXDOMAIN from its resolver as ERR_READ_ERROR (errno
    # 0) rather than ERR_DNS_FAIL; either way the failure is squid's hop to
    # the target, reported by squid, and never the proxy's own fault.
    assert r.headers["X-Rotor-Error"] in ("target_dns_failed", "target_reset")
    assert r.headers["X-Rotor-Origin"] == "network"
    assert "X-Squid-Error: ERR_" in last_record(g)["evidence"]


def test_squid_wrong_credentials(lab, rotor, sq1):
    g = rotor("http://alice:wrong@127.0.0.1:%d #sq1\n" % sq1.port, extra_args=["--max-attempts", "1"])
    r = through(g, "http://127.0.0.1:%d/" % lab.nginx.http_port)
    assert_generated(r, "proxy_auth_failed", "proxy", 502, "proxy_configuration_error")
    rec = last_record(g)
    assert "wrong" not in json.dumps(rec)


def test_tinyproxy_wrong_credentials(lab, rotor, tp1):
    g = rotor("http://carol:wrong@127.0.0.1:%d #tp1\n" % tp1.port, extra_args=["--max-attempts", "1"])
    r = through(g, "http://127.0.0.1:%d/" % lab.nginx.http_port)
    assert r.headers["X-Rotor-Error"] == "proxy_auth_failed"
    assert r.headers["X-Rotor-Origin"] == "proxy"


def test_tinyproxy_dead_target(lab, rotor, tp1):
    from peers import free_port
    g = rotor(tp1.pool_line() + "\n", extra_args=["--max-attempts", "1"])
    r = through(g, "http://127.0.0.1:%d/" % free_port())
    assert r.headers["X-Rotor-Error"] in ("target_unreachable", "target_refused")
    assert r.headers["X-Rotor-Origin"] == "network"


def test_absolute_https_request_to_direct_is_refused_with_the_fix(rotor):
    import socket
    g = rotor("direct\n")
    with socket.create_connection(("127.0.0.1", g.port), timeout=5) as s:
        s.sendall(b"GET https://127.0.0.1:9/ HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n")
        head = s.recv(65536).decode("latin-1")
    assert head.startswith("HTTP/1.1 501")
    assert "X-Rotor-Error: client_unsupported" in head and "X-Rotor-Origin: client" in head
    assert "CONNECT" in head and "HTTPS_PROXY" in head


def test_upgrade_switches_to_a_tunnel(rotor):
    """A WebSocket-style Upgrade reaches the target with its handshake, and
    after 101 the connection relays bytes both ways."""
    import socket
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    seen = {}

    def serve():
        conn, _ = srv.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            seen["head"] = data.decode("latin-1").lower()
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
            while True:
                b = conn.recv(4096)
                if not b:
                    break
                conn.sendall(b)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    g = rotor("direct\n")
    with socket.create_connection(("127.0.0.1", g.port), timeout=5) as s:
        s.sendall(("GET http://127.0.0.1:%d/chat HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: Upgrade\r\n"
                   "Upgrade: echo\r\n\r\n" % (port, port)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        text, _, rest = head.partition(b"\r\n\r\n")
        assert text.startswith(b"HTTP/1.1 101")
        assert b"upgrade: echo" in text.lower() and b"connection: upgrade" in text.lower()
        s.sendall(b"ping over the upgraded connection")
        got = rest
        while len(got) < 33:
            got += s.recv(4096)
        assert got == b"ping over the upgraded connection"
    t.join(5)
    srv.close()
    assert "upgrade: echo" in seen["head"] and "connection: upgrade" in seen["head"]
