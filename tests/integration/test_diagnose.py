"""Integration tests for `rotor diagnose`: every failure of every step built
on loopback (rotor lab scenarios, real squid and tinyproxy, dead ports, a
full accept queue), checked for the step, the CODE and the fix text.

Every run passes --reference with a loopback URL: the default reference is
a public page and must never be used here."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402
from conftest import SQ1_USERS, TP1_USER, TP1_PASSWORD, WEIRD_USER, WEIRD_PASSWORD  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ROTOR = os.environ.get("ROTOR_BIN", str(ROOT / "build" / "rotor"))
NO_PROXY_ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
NO_PROXY_ENV.pop("NO_COLOR", None)

VOCAB_FIX = {
    "proxy_refused": "Nothing accepts connections at the proxy's host:port (ECONNREFUSED)",
    "proxy_connect_timeout": "The proxy did not answer the TCP handshake in time (ETIMEDOUT)",
    "proxy_dns_failed": "The proxy's hostname does not resolve from this machine",
    "proxy_read_timeout": "The proxy accepted the request but sent no reply in time",
    "proxy_auth_failed": "The proxy rejected the credentials sent",
    "proxy_auth_required": "The proxy answered 407 and the pool entry sent no credentials",
    "target_blocked": "The site's anti-bot or firewall blocked this exit",
    "target_rate_limited": "The site rate-limits this exit (429 or a rate-limit page)",
}


# ---------------------------------------------------------------- helpers


def start_lab(d, *args, scenario_text=None):
    d.mkdir(parents=True, exist_ok=True)
    state = d / "state.json"
    cmd = [ROTOR, "lab", "--port-base", "0", "--pool-out", str(d / "pool.txt"),
           "--state-out", str(state), "--seed", "7", "--quiet"]
    if scenario_text is not None:
        (d / "scenario.txt").write_text(scenario_text)
        cmd += ["--scenario", str(d / "scenario.txt")]
    cmd += list(args)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=NO_PROXY_ENV)
    deadline = time.time() + 15
    while time.time() < deadline:
        if state.exists() and state.stat().st_size:
            st = json.loads(state.read_text())
            st["_proc"], st["_dir"] = proc, d
            st["ref"] = "http://127.0.0.1:%d/ip" % st["targets"]["http_port"]
            return st
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError("rotor lab exited %s: %s%s" % (proc.returncode, err, out))
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("rotor lab did not write its state file")


@pytest.fixture
def rlab(tmp_path):
    """Factory for `rotor lab` processes, stopped (and checked) at the end."""
    labs = []

    def make(*args, scenario_text=None):
        st = start_lab(tmp_path / ("lab%d" % len(labs)), *args, scenario_text=scenario_text)
        labs.append(st)
        return st

    yield make
    for st in labs:
        p = st["_proc"]
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=15)
        assert p.returncode == 0, err
        assert "AddressSanitizer" not in err and "runtime error" not in err, err


def diagnose(*args, timeout=40, text=False):
    """Run `rotor diagnose`; returns (exit status, parsed JSON or text, stderr)."""
    argv = [ROTOR, "diagnose"] + [str(a) for a in args]
    if not text:
        argv.append("--json")
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=NO_PROXY_ENV)
    assert "AddressSanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    if text:
        return p.returncode, p.stdout, p.stderr
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        raise AssertionError("not JSON (rc %d): %r %r" % (p.returncode, p.stdout[:2000], p.stderr[:2000]))
    return p.returncode, doc, p.stderr


def step(doc, n):
    s = doc["steps"][n - 1]
    assert s["step"] == n
    return s


def assert_failed_at(rc, doc, n, code):
    """The report stops at step n with CODE, later steps skipped, the
    vocabulary's fix first, and the exit status naming the step."""
    assert rc == 10 + n, (rc, json.dumps(doc, indent=1))
    assert doc["failed_step"] == n and doc["code"] == code, json.dumps(doc, indent=1)
    s = step(doc, n)
    assert s["status"] == "fail" and s["code"] == code, s
    for k in range(1, n):
        assert step(doc, k)["status"] in ("pass", "warn", "skipped"), step(doc, k)
    for k in range(n + 1, len(doc["steps"]) + 1):
        assert step(doc, k)["status"] == "skipped", step(doc, k)
    if code in VOCAB_FIX:
        assert doc["fixes"][0].startswith(VOCAB_FIX[code]), doc["fixes"]
    return s


def lab_url(st, i=0, user="lab", password="lab"):
    return "http://%s:%s@127.0.0.1:%d" % (quote(user, safe=""), quote(password, safe=""), st["proxies"][i]["port"])


def via_lab(st, url, i=0):
    s = requests.Session()
    s.trust_env = False
    p = lab_url(st, i)
    return s.get(url, proxies={"http": p, "https": p}, timeout=10)


def dead_port():
    """A loopback port nobody listens on: bound, never listening, so a
    connect gets ECONNREFUSED for as long as the socket is held."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


class Relay:
    """A backconnect-style gateway: each client connection is relayed to
    the next upstream in `schedule`, then round-robin over all upstreams,
    so every connection (every request, as diagnose closes after each)
    leaves through another exit."""

    def __init__(self, ports, schedule=()):
        self.ports = list(ports)
        self.schedule = list(schedule)
        self.n = 0
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(64)
        self.port = self.srv.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _pick(self):
        i = self.n
        self.n += 1
        if i < len(self.schedule):
            return self.ports[self.schedule[i]]
        return self.ports[(i - len(self.schedule)) % len(self.ports)]

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self._pick()))
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.srv.close()


# ---------------------------------------------------------------- step 1


def test_healthy_proxy_passes_every_step_and_shows_the_exit(rlab):
    st = rlab()
    rc, doc, _ = diagnose(lab_url(st), "http://ok.lab/", "--reference", st["ref"], "--samples", 5)
    assert rc == 0, doc
    assert [s["status"] for s in doc["steps"]] == ["pass"] * 5
    assert doc["exit_ip"] == "10.77.0.1"
    assert doc["proxy"] == "http://lab:****@127.0.0.1:%d" % st["proxies"][0]["port"]
    assert len(doc["samples"]) == 5 and all(x["status"] == 200 for x in doc["samples"])
    assert doc["pattern"]["kind"] == "none" and doc["pattern"]["failed"] == 0
    assert "accepted with them" in " ".join(step(doc, 2)["notes"]) or "407 without" in step(doc, 2)["summary"]
    rc, out, _ = diagnose(lab_url(st), "http://ok.lab/", "--reference", st["ref"], "--samples", 2, text=True)
    assert rc == 0
    assert "verdict: the proxy works (exit IP 10.77.0.1)" in out
    assert "\033[" not in out  # not a terminal: no colour
    assert out.count("[ ok ]") == 5


def test_dead_port_is_refused_at_step_1():
    s, port = dead_port()
    with s:
        rc, doc, _ = diagnose("127.0.0.1:%d" % port, "--reference", "http://127.0.0.1:9/ip")
    st1 = assert_failed_at(rc, doc, 1, "proxy_refused")
    assert "ECONNREFUSED" in st1["evidence"]
    assert any("different ports" in h for h in st1["hints"])


def test_full_accept_queue_times_out_the_tcp_connect():
    """A listener with a full accept queue drops SYNs (Linux, with
    tcp_abort_on_overflow off): the only loopback way to make a TCP
    connect time out."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.3)
    try:
        rc, doc, _ = diagnose("127.0.0.1:%d" % port, "--connect-timeout", 800, "--reference", "http://127.0.0.1:9/ip")
    finally:
        for c in fillers:
            c.close()
        srv.close()
    st1 = assert_failed_at(rc, doc, 1, "proxy_connect_timeout")
    assert "800 ms" in st1["summary"]


def test_reserved_name_fails_dns_locally():
    rc, doc, _ = diagnose("http://user:pw@nonexistent.invalid:3128", "--reference", "http://127.0.0.1:9/ip")
    st1 = assert_failed_at(rc, doc, 1, "proxy_dns_failed")
    assert "not looked up" in " ".join(st1["notes"])
    assert any("RFC 6761" in h for h in st1["hints"])


# ---------------------------------------------------------------- step 2


def test_blackhole_proxy_times_out_waiting_for_the_reply(rlab):
    st = rlab(scenario_text="proxies 1\nproxy 1 blackhole\n")
    t0 = time.monotonic()
    rc, doc, _ = diagnose(lab_url(st), "--reference", st["ref"], "--timeout", 800)
    assert time.monotonic() - t0 < 20
    s = assert_failed_at(rc, doc, 2, "proxy_read_timeout")
    assert "no reply within 800 ms" in s["summary"]
    assert step(doc, 1)["status"] == "pass"


def test_lab_bad_credentials_are_rejected_with_the_realm(rlab):
    st = rlab("--scenario", "bad-credentials", "--proxies", "2")
    rc, doc, _ = diagnose(lab_url(st), "--reference", st["ref"])
    s = assert_failed_at(rc, doc, 2, "proxy_auth_failed")
    assert "realm \"lab\"" in s["summary"]
    assert "407 without it too" in s["evidence"]


def test_wrong_password_is_rejected_and_never_printed(rlab):
    st = rlab()
    secret = "Wr0ngS3cret"
    url = lab_url(st, password=secret)
    rc, doc, err = diagnose(url, "--reference", st["ref"])
    assert_failed_at(rc, doc, 2, "proxy_auth_failed")
    rc2, out, err2 = diagnose(url, "--reference", st["ref"], text=True)
    assert rc2 == 12
    for text in (json.dumps(doc), err, out, err2):
        assert secret not in text
    assert "lab:****@" in out


def test_missing_credentials_and_this_machines_ip(rlab):
    st = rlab()
    rc, doc, _ = diagnose("127.0.0.1:%d" % st["proxies"][0]["port"], "--reference", st["ref"], "--compare-direct")
    s = assert_failed_at(rc, doc, 2, "proxy_auth_required")
    assert "realm \"lab\"" in s["summary"]
    assert doc["local_ip"] == "127.0.0.1"
    assert any("whitelist is 127.0.0.1" in h for h in s["hints"])


def test_proxy_that_needs_no_credentials_looks_ip_whitelisted(rlab):
    st = rlab("--no-auth")
    rc, doc, _ = diagnose(lab_url(st), "--reference", st["ref"], "--samples", 0)
    assert rc == 0, doc
    assert step(doc, 2)["status"] == "pass"
    assert any("whitelisted" in n for n in step(doc, 2)["notes"])
    assert step(doc, 5)["status"] == "skipped"


def test_squid_wrong_password(sq1, nginx):
    rc, doc, _ = diagnose("http://alice:not-the-password@127.0.0.1:%d" % sq1.port, "--reference", nginx.url + "/")
    s = assert_failed_at(rc, doc, 2, "proxy_auth_failed")
    assert "realm \"sq1\"" in s["summary"]
    rc, doc, _ = diagnose(sq1.pool_line("alice").split(" #")[0], "--reference", nginx.url + "/", "--samples", 2)
    assert rc == 0, doc


def test_special_characters_encoded_vs_unencoded(sq1, nginx):
    port = sq1.port
    encoded = "http://%s:%s@127.0.0.1:%d" % (WEIRD_USER, quote(WEIRD_PASSWORD, safe=""), port)
    rc, doc, _ = diagnose(encoded, "--reference", nginx.url + "/", "--samples", 0)
    assert rc == 0, doc
    assert step(doc, 2)["status"] == "pass"
    # The literal form takes the password as written.
    literal = "127.0.0.1:%d:%s:%s" % (port, WEIRD_USER, WEIRD_PASSWORD)
    rc, doc, _ = diagnose(literal, "--reference", nginx.url + "/", "--samples", 0)
    assert rc == 0, doc
    # Unencoded in a URL: the pool parser's precise message is step 2's finding.
    raw = "http://%s:%s@127.0.0.1:%d" % (WEIRD_USER, WEIRD_PASSWORD, port)
    rc, doc, err = diagnose(raw, "--reference", nginx.url + "/")
    s = assert_failed_at(rc, doc, 2, "proxy_auth_failed")
    assert "'@' in password must be written %40" in s["summary"]
    assert step(doc, 1)["status"] == "pass"
    assert any("%23" in h for h in s["hints"])
    assert WEIRD_PASSWORD not in json.dumps(doc) and "ss:w#rd" not in err
    assert doc["proxy"] == "http://weird:****@127.0.0.1:%d" % port


def test_tinyproxy_wrong_password_401_is_rejected(tp1, nginx):
    rc, doc, _ = diagnose("http://%s:nope@127.0.0.1:%d" % (TP1_USER, tp1.port), "--reference", nginx.url + "/")
    s = assert_failed_at(rc, doc, 2, "proxy_auth_failed")
    assert "401 with WWW-Authenticate" in s["summary"]
    assert any("tinyproxy" in h for h in s["hints"])


# ---------------------------------------------------------------- step 3


def test_proxy_that_cannot_reach_the_reference(rlab):
    st = rlab()
    rc, doc, _ = diagnose(lab_url(st), "--reference", "http://down.lab/ip")
    s = assert_failed_at(rc, doc, 3, "target_refused")
    assert any("outbound side" in h for h in s["hints"])
    assert "ERR_CONNECT_FAIL" in s["evidence"]


def test_tinyproxy_with_an_unreachable_reference(tp1):
    s, port = dead_port()
    with s:
        rc, doc, _ = diagnose("http://%s:%s@127.0.0.1:%d" % (TP1_USER, TP1_PASSWORD, tp1.port),
                              "--reference", "http://127.0.0.1:%d/ip" % port)
    s3 = assert_failed_at(rc, doc, 3, "target_unreachable")
    assert s3["evidence"].startswith("tinyproxy.unable_to_connect"), s3
    assert any("outbound side" in h for h in s3["hints"])
    assert step(doc, 2)["status"] == "pass"


def test_quota_is_an_account_failure_at_step_2(rlab):
    st = rlab(scenario_text="proxies 1\nproxy 1 quota style=brd\n")
    rc, doc, _ = diagnose(lab_url(st), "--reference", st["ref"])
    assert_failed_at(rc, doc, 2, "proxy_quota_exceeded")


# ---------------------------------------------------------------- step 4


def test_target_that_blocks_this_proxy_but_not_this_machine(rlab):
    st = rlab(scenario_text="proxies 1\ntarget bans.lab ban_after=1\n")
    assert via_lab(st, "http://bans.lab/").status_code == 200  # the one allowed request
    tport = st["targets"]["http_port"]
    rc, doc, _ = diagnose(lab_url(st), "http://bans.lab/", "--reference", st["ref"], "--compare-direct",
                          "--connect-to", "bans.lab:80:127.0.0.1:%d" % tport)
    s = assert_failed_at(rc, doc, 4, "target_blocked")
    assert "cloudflare" in s["evidence"].lower()
    assert any("without the proxy: 200" in n for n in s["notes"])
    assert any("blocks this proxy's exit" in h for h in s["hints"])
    assert step(doc, 3)["status"] == "pass" and doc["exit_ip"] == "10.77.0.1"


def test_target_that_is_down_for_everyone(rlab):
    st = rlab()
    s0, port = dead_port()
    with s0:
        rc, doc, _ = diagnose(lab_url(st), "http://down.lab/", "--reference", st["ref"], "--compare-direct",
                              "--connect-to", "down.lab:80:127.0.0.1:%d" % port)
    s = assert_failed_at(rc, doc, 4, "target_refused")
    assert any("fails without the proxy too" in h for h in s["hints"])


def test_target_rate_limit_with_retry_after(rlab):
    st = rlab(scenario_text="proxies 1\ntarget ratelimit.lab rate=1/60000\n")
    assert via_lab(st, "http://ratelimit.lab/").status_code == 200
    rc, doc, _ = diagnose(lab_url(st), "http://ratelimit.lab/", "--reference", st["ref"])
    s = assert_failed_at(rc, doc, 4, "target_rate_limited")
    assert 1 <= doc["retry_after_s"] <= 60
    assert any(n.startswith("Retry-After: ") for n in s["notes"])


def test_https_target_through_connect_needs_the_right_ca(rlab):
    st = rlab()
    ca = str(st["_dir"] / "lab-ca.pem")
    rc, doc, _ = diagnose(lab_url(st), "https://ok.lab/ip", "--reference", st["ref"], "--ca-file", ca,
                          "--samples", 2)
    assert rc == 0, doc
    assert step(doc, 4)["status"] == "pass"
    assert all(x["exit_ip"] == "10.77.0.1" for x in doc["samples"])
    # The system store does not know the lab's CA.
    rc, doc, _ = diagnose(lab_url(st), "https://ok.lab/ip", "--reference", st["ref"])
    assert_failed_at(rc, doc, 4, "target_certificate_invalid")


# ---------------------------------------------------------------- step 5


def test_failures_that_follow_one_exit(rlab):
    st = rlab(scenario_text="proxies 3\nproxy 2 err502\n")
    relay = Relay([p["port"] for p in st["proxies"]], schedule=[0, 0, 0])
    try:
        rc, doc, _ = diagnose("http://lab:lab@127.0.0.1:%d" % relay.port, "--reference", st["ref"],
                              "--samples", 9)
    finally:
        relay.close()
    # squid-style 502 ERR_READ_ERROR 104: the exit says the target reset it.
    s = assert_failed_at(rc, doc, 5, "target_reset")
    pat = doc["pattern"]
    assert pat["kind"] == "specific_exits", pat
    assert pat["failed"] == 3 and pat["samples"] == 9
    bad = [x["exit"] for x in pat["exits"] if x["bad"]]
    assert bad == ["via lab-p2"], pat
    good = {x["exit"]: x for x in pat["exits"] if not x["bad"]}
    assert set(good) == {"10.77.0.1", "10.77.0.3"} and all(x["failed"] == 0 for x in good.values())
    assert "follow particular exits" in s["summary"]
    assert any("banned or unhealthy" in h for h in s["hints"])


def test_failures_that_grow_over_time(rlab):
    st = rlab(scenario_text="proxies 1\ntarget bans.lab ban_after=4\n")
    rc, doc, _ = diagnose(lab_url(st), "http://bans.lab/", "--reference", st["ref"], "--samples", 10)
    s = assert_failed_at(rc, doc, 5, "target_blocked")
    assert doc["pattern"]["kind"] == "growing"
    statuses = [x["status"] for x in doc["samples"]]
    assert statuses == [200] * 3 + [403] * 7, statuses
    assert "first at sample 4" in s["summary"]


# ---------------------------------------------------------------- --pool


def test_pool_of_200_entries(rlab, tmp_path):
    st = rlab("--proxies", "150")
    holds = [dead_port() for _ in range(50)]
    lines = []
    try:
        for i in range(200):
            if i % 4 == 3:
                lines.append("127.0.0.1:%d #dead%d" % (holds[i // 4][1], i))
            else:
                p = st["proxies"][i - i // 4]
                lines.append("http://lab:lab@127.0.0.1:%d #%s" % (p["port"], p["label"]))
        pool = tmp_path / "pool200.txt"
        pool.write_text("\n".join(lines) + "\n")
        t0 = time.monotonic()
        rc, doc, _ = diagnose("--pool", pool, "--reference", st["ref"])
        took = time.monotonic() - t0
        rc2, out, _ = diagnose("--pool", pool, "--reference", st["ref"], text=True)
    finally:
        for s, _ in holds:
            s.close()
    print("diagnose --pool over 200 entries took %.2f s (rotor says %d ms)" % (took, doc["elapsed_ms"]))
    assert rc == 11 and rc2 == 11
    assert len(doc["entries"]) == 200
    assert doc["summary"] == {"entries": 200, "ok": 150, "failed": 50, "by_code": {"proxy_refused": 50}}
    for i, e in enumerate(doc["entries"]):
        assert e["index"] == i + 1
        if i % 4 == 3:
            assert e["label"] == "dead%d" % i and e["failed_step"] == 1 and e["code"] == "proxy_refused"
        else:
            assert e["ok"] and e["exit_ip"].startswith("10.77.0."), e
            assert [s["status"] for s in e["steps"]] == ["pass"] * 3
    rows = [l for l in out.splitlines() if l[:4].strip().isdigit()]
    assert len(rows) == 200
    assert sum(" FAIL 1 " in r and "proxy_refused" in r for r in rows) == 50
    assert "200 entries checked in" in out and "150 work, 50 fail" in out


def test_pool_with_a_bad_line_is_a_usage_error(tmp_path):
    pool = tmp_path / "bad.txt"
    pool.write_text("127.0.0.1:3128\nhttp://u:p@ss@127.0.0.1:1\n")
    p = subprocess.run([ROTOR, "diagnose", "--pool", str(pool)], capture_output=True, text=True, env=NO_PROXY_ENV)
    assert p.returncode == 2
    assert "bad.txt:2:" in p.stderr and "%40" in p.stderr
    assert "p@ss" not in p.stderr


def test_usage_errors():
    for args in (["diagnose"], ["diagnose", "127.0.0.1"], ["diagnose", "--samples", "x", "127.0.0.1:1"],
                 ["diagnose", "127.0.0.1:1", "ftp://x/"], ["diagnose", "--frobnicate", "127.0.0.1:1"]):
        p = subprocess.run([ROTOR] + args, capture_output=True, text=True, env=NO_PROXY_ENV)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert p.stderr, args
    p = subprocess.run([ROTOR, "diagnose", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "Exit status" in p.stdout
    p = subprocess.run([ROTOR, "--help"], capture_output=True, text=True)
    assert "diagnose" in p.stdout
