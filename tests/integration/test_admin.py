"""Integration tests for the admin plane of `rotor serve --admin`: the
Prometheus exposition (checked by a strict parser written here), counters
moving by exact amounts under known faults, the JSON API against
hand-written schemas, operator actions reaching every worker, access rules
(loopback, credentials), the terminal status line, and the dashboard
rendered by a real headless browser."""
import json
import math
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

import peers

HERE = Path(__file__).resolve().parent
OUT = HERE / ".out"
ROTOR = os.environ.get("ROTOR_BIN", str(peers.REPO / "build" / "rotor"))
NO_PROXY_ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


# ---------------------------------------------------------------- helpers


def session():
    s = requests.Session()
    s.trust_env = False
    return s


class Admin:
    """A gateway started with --admin on a free port."""

    def __init__(self, gw, port, auth=None):
        self.gw = gw
        self.base = "http://127.0.0.1:%d" % port
        self.auth = auth
        self.s = session()

    def get(self, path, **kw):
        kw.setdefault("timeout", 10)
        if self.auth:
            kw.setdefault("auth", self.auth)
        return self.s.get(self.base + path, **kw)

    def post(self, path, **kw):
        kw.setdefault("timeout", 10)
        if self.auth:
            kw.setdefault("auth", self.auth)
        return self.s.post(self.base + path, **kw)

    def json(self, path):
        r = self.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("application/json")
        return r.json()

    def metrics(self):
        r = self.get("/metrics")
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return parse_exposition(r.text)


def start_admin(rotor, pool_text, extra=(), auth=None, host="127.0.0.1"):
    """A gateway with its admin server. One event-loop thread unless the
    test asks for more, so per-thread policy shards count exactly."""
    port = peers.free_port()
    args = ["--admin", "%s:%d" % (host, port)]
    if "--threads" not in extra:
        args += ["--threads", "1"]
    if auth:
        args += ["--admin-auth", "%s:%s" % auth]
    gw = rotor(pool_text, extra_args=args + list(extra))
    assert "admin on http://%s:%d/" % (host, port) in gw.stderr_text()
    return gw, Admin(gw, port, auth)


def through(gw, url, n=1, **kw):
    """n GETs through the gateway; returns the responses."""
    out = []
    with session() as s:
        for _ in range(n):
            out.append(s.get(url, proxies=gw.proxies, timeout=20, **kw))
    return out


def wait_for(pred, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def start_lab(tmp_path, scenario_text, name="lab"):
    d = tmp_path / name
    d.mkdir()
    state = d / "state.json"
    sc = d / "scenario.txt"
    sc.write_text(scenario_text)
    proc = subprocess.Popen([ROTOR, "lab", "--port-base", "0", "--pool-out", str(d / "pool.txt"), "--state-out",
                             str(state), "--seed", "7", "--quiet", "--scenario", str(sc)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=NO_PROXY_ENV)
    deadline = time.time() + 15
    while time.time() < deadline:
        if state.exists() and state.stat().st_size:
            return proc, (d / "pool.txt").read_text()
        if proc.poll() is not None:
            raise AssertionError("rotor lab exited: %s" % proc.communicate()[1])
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("rotor lab did not start")


@pytest.fixture
def lab_pool(tmp_path):
    """Factory: lab_pool(scenario_text) starts `rotor lab` and returns its
    pool file text; every lab is stopped at the end of the test."""
    procs = []

    def make(scenario_text):
        proc, pool = start_lab(tmp_path, scenario_text, name="lab%d" % len(procs))
        procs.append(proc)
        return pool

    yield make
    for p in procs:
        p.send_signal(signal.SIGTERM)
        try:
            p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


# ------------------------------------------------- Prometheus exposition


NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE_RE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)$" % NAME)
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_labels(text, line):
    labels = {}
    pos = 0
    while pos < len(text):
        m = re.compile(LABEL).match(text, pos)
        assert m, "bad label set at %r in %r" % (text[pos:], line)
        k, v = m.group(1), m.group(2)
        assert k not in labels, "label %s twice in %r" % (k, line)
        labels[k] = v.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        pos = m.end()
        if pos < len(text):
            assert text[pos] == ",", "expected ',' in %r" % line
            pos += 1
    return labels


def parse_value(s, line):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", s), "bad value in %r" % line
    return float(s)


def parse_exposition(text):
    """Strict reader of the text format 0.0.4 as rotor must write it: HELP
    then TYPE before a family's samples, each family once and contiguous,
    no duplicate series, counters named *_total, histograms complete and
    cumulative. Returns {family: {"type", "help", "samples": [(name,
    labels, value)]}}."""
    assert text.endswith("\n"), "exposition must end with a newline"
    fams = {}
    current = None
    seen_series = set()
    closed = set()
    for line in text.split("\n")[:-1]:
        assert line.strip() == line and line, "blank or padded line %r" % line
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert re.fullmatch(NAME, name) and help_text, line
            assert name not in fams, "family %s declared twice" % name
            if current:
                closed.add(current)
            fams[name] = {"help": help_text, "type": None, "samples": []}
            current = name
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert name == current and fams[name]["type"] is None, "TYPE must follow HELP: %r" % line
            assert typ in TYPES, line
            fams[name]["type"] = typ
            continue
        assert not line.startswith("#"), "unexpected comment %r" % line
        m = SAMPLE_RE.match(line)
        assert m, "malformed sample line %r" % line
        name, labels_text, value = m.group(1), m.group(2) or "", m.group(3)
        labels = parse_labels(labels_text, line)
        val = parse_value(value, line)
        fam = current
        assert fam and fams[fam]["type"], "sample before HELP/TYPE: %r" % line
        typ = fams[fam]["type"]
        if typ == "histogram":
            assert name in (fam + "_bucket", fam + "_sum", fam + "_count"), "%s not part of histogram %s" % (name, fam)
        else:
            assert name == fam, "sample %s under family %s" % (name, fam)
        if typ == "counter":
            assert fam.endswith("_total"), "counter %s must end in _total" % fam
            assert val >= 0 and not math.isnan(val), line
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen_series, "duplicate series %r" % line
        seen_series.add(key)
        fams[fam]["samples"].append((name, labels, val))
    for fam, f in fams.items():
        assert f["type"], "family %s without TYPE" % fam
        if f["type"] == "histogram":
            check_histogram(fam, f["samples"])
    return fams


def check_histogram(fam, samples):
    buckets = [(s[1]["le"], s[2]) for s in samples if s[0] == fam + "_bucket"]
    assert buckets and buckets[-1][0] == "+Inf", "%s needs a +Inf bucket" % fam
    les = [float(le.replace("+Inf", "inf")) for le, _ in buckets]
    assert les == sorted(les) and len(set(les)) == len(les), "%s buckets out of order" % fam
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "%s buckets not cumulative" % fam
    count = [s[2] for s in samples if s[0] == fam + "_count"]
    total = [s[2] for s in samples if s[0] == fam + "_sum"]
    assert count == [counts[-1]], "%s_count must equal the +Inf bucket" % fam
    assert len(total) == 1 and total[0] >= 0


def value(fams, family, **labels):
    """The sample of a family matching all the given labels (0 if absent:
    per-upstream series appear once they are nonzero)."""
    name = labels.pop("_name", family)
    found = [v for n, l, v in fams.get(family, {"samples": []})["samples"]
             if n == name and all(l.get(k) == str(x) for k, x in labels.items())]
    assert len(found) <= 1, (family, labels, found)
    return found[0] if found else 0


REQUIRED_FAMILIES = {
    "rotor_requests_total": "counter", "rotor_attempts_total": "counter", "rotor_retries_total": "counter",
    "rotor_retry_budget_usage": "gauge", "rotor_request_duration_seconds": "histogram",
    "rotor_attempt_duration_seconds": "histogram", "rotor_upstream_in_flight": "gauge",
    "rotor_upstream_ejected": "gauge", "rotor_upstream_quarantined": "gauge", "rotor_upstream_bans": "gauge",
    "rotor_domain_breaker_state": "gauge", "rotor_bytes_total": "counter", "rotor_open_connections": "gauge",
    "rotor_log_lines_dropped_total": "counter", "rotor_politeness_unlimited_total": "counter",
}


def test_parser_rejects_what_prometheus_rejects():
    good = "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\\\"\"} 1\n"
    assert value(parse_exposition(good), "a_total", k='v"') == 1
    bad = [
        "a_total 1\n",                                                     # no HELP/TYPE
        "# HELP a_total x\n# TYPE a_total counter\na_total 1",              # no final newline
        "# HELP a x\n# TYPE a counter\na 1\n",                              # counter without _total
        "# HELP a_total x\n# TYPE a_total counter\na_total{k=v} 1\n",       # unquoted label
        "# HELP a_total x\n# TYPE a_total counter\na_total 1\na_total 2\n",  # duplicate series
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",   # no +Inf
        "# HELP g x\n# TYPE g gauge\ng one\n",
    ]
    for text in bad:
        with pytest.raises(AssertionError):
            parse_exposition(text)


def test_metrics_exposition_valid_and_free_of_credentials(rotor, sq1, nginx):
    gw, adm = start_admin(rotor, [sq1.pool_line("alice"), "direct #direct"])
    through(gw, nginx.url + "/1k", n=4)
    fams = wait_for(lambda: (lambda f: f if value(f, "rotor_requests_total", code="ok") == 4 else None)(adm.metrics()),
                    what="4 ok requests in the metrics")
    for name, typ in REQUIRED_FAMILIES.items():
        assert name in fams, "missing family %s" % name
        assert fams[name]["type"] == typ, name
    # Every code of the vocabulary has a requests series, with its origin and class.
    codes = {l["code"] for _, l, _ in fams["rotor_requests_total"]["samples"]}
    assert {"ok", "proxy_auth_failed", "target_blocked", "circuit_open", "client_bad_request"} <= codes
    assert value(fams, "rotor_requests_total", code="proxy_refused", origin="network", **{"class": "fix"}) == 0
    for _, l, _ in fams["rotor_requests_total"]["samples"]:
        assert l["origin"] in ("client", "gateway", "proxy", "target", "network", "none"), l
    # Round robin over two entries: two attempts each.
    assert value(fams, "rotor_attempts_total", code="ok", upstream="sq1") == 2
    assert value(fams, "rotor_attempts_total", code="ok", upstream="direct") == 2
    assert value(fams, "rotor_request_duration_seconds", _name="rotor_request_duration_seconds_count") == 4
    assert value(fams, "rotor_attempt_duration_seconds", _name="rotor_attempt_duration_seconds_count") == 4
    assert value(fams, "rotor_bytes_total", direction="out") > 4 * 1024
    assert value(fams, "rotor_upstream_quarantined", upstream="sq1") == 0
    text = adm.get("/metrics").text + adm.get("/api/v1/upstreams").text
    assert "al1ce-Secret-77" not in text and "alice" not in text


def test_counters_move_by_known_faults(rotor, nginx):
    gw, adm = start_admin(rotor, ["direct #direct"], extra=["--max-attempts", "1"])
    before = adm.metrics()
    dead = peers.free_port()
    ok = through(gw, nginx.url + "/", n=5)
    bad = through(gw, "http://127.0.0.1:%d/x" % dead, n=3)
    assert [r.status_code for r in ok] == [200] * 5
    assert [r.headers.get("X-Rotor-Error") for r in bad] == ["target_refused"] * 3

    def moved():
        f = adm.metrics()
        return f if value(f, "rotor_request_duration_seconds", _name="rotor_request_duration_seconds_count") == 8 else None
    after = wait_for(moved, what="8 requests counted")
    d = lambda fam, **l: value(after, fam, **l) - value(before, fam, **l)  # noqa: E731
    assert d("rotor_requests_total", code="ok", origin="target", **{"class": "none"}) == 5
    assert d("rotor_requests_total", code="target_refused", origin="network", **{"class": "retry_now"}) == 3
    assert d("rotor_attempts_total", code="target_refused", upstream="direct") == 3
    assert d("rotor_attempts_total", code="ok", upstream="direct") == 5
    assert d("rotor_retries_total") == 0
    assert d("rotor_bytes_total", direction="in") > 0
    total_requests = sum(v for _, _, v in after["rotor_requests_total"]["samples"])
    assert total_requests == 8

    # The same story through the API, with the vocabulary's fix line.
    st = adm.json("/api/v1/stats")
    assert st["totals"]["requests"] == 8 and st["totals"]["ok"] == 5 and st["totals"]["failed"] == 3
    assert st["totals"]["success_rate"] == pytest.approx(5 / 8, abs=1e-4)
    assert st["failures_by_origin"]["network"] == 3
    top = st["top_failures"][0]
    assert top["code"] == "target_refused" and top["count"] == 3 and top["origin"] == "network"
    assert "refused the TCP connection" in top["fix"]
    errs = wait_for(lambda: (lambda e: e if e["count"] == 3 else None)(adm.json("/api/v1/errors")),
                    what="3 recent failures")
    for e in errs["errors"]:
        assert e["code"] == "target_refused" and e["status"] == 502 and e["upstream"] == "direct"
        assert e["url"] == "http://127.0.0.1:%d/x" % dead and e["method"] == "GET"
        assert e["evidence"] and e["fix"] and e["attempts"] == 1
    times = [e["time_ms"] for e in errs["errors"]]
    assert times == sorted(times, reverse=True)
    newest_two = adm.json("/api/v1/errors?since=%d" % times[2])
    assert [e["time_ms"] for e in newest_two["errors"]] == [t for t in times if t > times[2]]
    assert adm.json("/api/v1/errors?limit=1")["count"] == 1


def test_refused_upstream_is_quarantined_and_readmit_brings_it_back(rotor, lab_pool):
    pool = lab_pool("proxies 3\nproxy 2 refused\n")
    gw, adm = start_admin(rotor, pool)
    rs = through(gw, "http://ok.lab/", n=6)
    assert [r.status_code for r in rs] == [200] * 6
    f = wait_for(lambda: (lambda m: m if value(m, "rotor_upstream_quarantined", upstream="lab-p2") == 1 else None)(
        adm.metrics()), what="lab-p2 quarantined")
    assert value(f, "rotor_attempts_total", code="proxy_refused", upstream="lab-p2") == 1
    assert value(f, "rotor_requests_total", code="ok", origin="target", **{"class": "none"}) == 6
    assert value(f, "rotor_retries_total") == 1
    ups = {u["label"]: u for u in adm.json("/api/v1/upstreams")["upstreams"]}
    p2 = ups["lab-p2"]
    assert p2["health"] == "quarantined" and p2["quarantined"] is True
    assert p2["quarantine"]["code"] == "proxy_refused" and "ECONNREFUSED" in p2["quarantine"]["fix"]
    assert p2["failures_by_code"] == {"proxy_refused": 1}

    r = adm.post("/api/v1/upstreams/lab-p2/readmit")
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["found_in_workers"] == 1
    assert adm.json("/api/v1/upstreams")["upstreams"][1]["health"] == "healthy"
    through(gw, "http://ok.lab/", n=6)
    # Counters are live; quarantine state follows within a snapshot period.
    wait_for(lambda: (lambda m: value(m, "rotor_attempts_total", code="proxy_refused", upstream="lab-p2") == 2 and
                      value(m, "rotor_upstream_quarantined", upstream="lab-p2") == 1)(adm.metrics()),
             what="a second attempt on lab-p2 after readmit, and its quarantine")
    assert '"event":"admin_readmit"' in gw.log_text()


def test_operator_quarantine_stops_traffic_and_readmit_restores_it(rotor, lab_pool):
    pool = lab_pool("proxies 3\n")
    gw, adm = start_admin(rotor, pool, extra=["--threads", "2"])

    def attempts(label):
        return {u["label"]: u for u in adm.json("/api/v1/upstreams")["upstreams"]}[label]["attempts"]
    r = adm.post("/api/v1/upstreams/lab-p1/quarantine")
    assert r.status_code == 200
    body = r.json()
    assert body == {"ok": True, "upstream": "lab-p1", "workers": 2, "found_in_workers": 2}
    u = {x["label"]: x for x in adm.json("/api/v1/upstreams")["upstreams"]}["lab-p1"]
    assert u["health"] == "quarantined" and u["quarantine"]["why"] == "operator request"
    assert value(adm.metrics(), "rotor_upstream_quarantined", upstream="lab-p1") == 1
    rs = through(gw, "http://ok.lab/ip", n=12)
    assert all(r.status_code == 200 for r in rs)
    assert not any("10.77.0.1" in r.text for r in rs), "a quarantined upstream carried traffic"
    time.sleep(0.4)
    assert attempts("lab-p1") == 0
    assert attempts("lab-p2") + attempts("lab-p3") == 12

    assert adm.post("/api/v1/upstreams/lab-p1/readmit").status_code == 200
    rs = through(gw, "http://ok.lab/ip", n=12)
    assert any("10.77.0.1" in r.text for r in rs)
    wait_for(lambda: attempts("lab-p1") > 0, what="lab-p1 traffic after readmit")
    log = gw.log_text()
    assert '"event":"admin_quarantine"' in log and '"event":"admin_readmit"' in log
    # Unknown labels and the wrong method are refused.
    assert adm.post("/api/v1/upstreams/nope/quarantine").status_code == 404
    r = adm.get("/api/v1/upstreams/lab-p1/quarantine")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"


def test_domain_reset_closes_an_open_breaker(rotor, lab_pool):
    pool = lab_pool("proxies 3\n")
    gw, adm = start_admin(rotor, pool)
    opened = None
    with session() as s:
        for _ in range(60):
            r = s.get("http://down.lab/", proxies=gw.proxies, timeout=20)
            if r.headers.get("X-Rotor-Error") == "circuit_open":
                opened = r
                break
    assert opened is not None, "the breaker for down.lab never opened"
    assert opened.status_code == 503 and int(opened.headers["Retry-After"]) >= 1

    def dom():
        return {d["domain"]: d for d in adm.json("/api/v1/domains")["domains"]}.get("down.lab")
    d = wait_for(lambda: (lambda x: x if x and x["breaker"] == "open" else None)(dom()), what="down.lab open")
    assert d["failure_rate"] > 0.3 and d["attempts"] >= 20 and d["retry_in_s"] > 0
    assert value(adm.metrics(), "rotor_domain_breaker_state", domain="down.lab") == 1
    assert value(adm.metrics(), "rotor_domain_breakers", state="open") == 1
    assert adm.json("/api/v1/stats")["domains"]["open"] == 1

    r = adm.post("/api/v1/domains/down.lab/reset")
    assert r.status_code == 200 and r.json()["found_in_workers"] == 1
    d = dom()
    assert d["breaker"] == "closed" and d["attempts"] == 0
    assert value(adm.metrics(), "rotor_domain_breaker_state", domain="down.lab") == 0
    # Requests reach the domain again (and fail on their own merits).
    r = through(gw, "http://down.lab/")[0]
    assert r.headers.get("X-Rotor-Error") != "circuit_open"
    assert '"event":"admin_domain_reset"' in gw.log_text()
    r = adm.post("/api/v1/domains/never.seen.example/reset")
    assert r.status_code == 200 and r.json()["found_in_workers"] == 0


def test_reload_action_reports_the_outcome(rotor, nginx):
    gw, adm = start_admin(rotor, ["direct #direct"])
    r = adm.post("/api/v1/reload")
    assert r.status_code == 200 and r.json()["ok"] is True
    assert "generation 2" in r.json()["detail"]
    assert adm.json("/api/v1/stats")["pool"]["generation"] == 2
    gw.pool_path.write_text("direct #direct\nhttp://u:p@:80 #broken\n")
    r = adm.post("/api/v1/reload")
    assert r.status_code == 409 and r.json()["ok"] is False
    assert "pool.txt:2" in r.json()["detail"] and "keeping the previous pool" in r.json()["detail"]
    assert adm.json("/api/v1/stats")["pool"]["generation"] == 2
    assert through(gw, nginx.url + "/")[0].status_code == 200
    log = gw.log_text()
    assert log.count('"event":"admin_reload"') == 2 and '"event":"reload_failed"' in log


# ------------------------------------------------------------ API schemas


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_fields(obj, spec, where):
    assert isinstance(obj, dict), where
    for k, t in spec.items():
        assert k in obj, "%s: missing %s" % (where, k)
        v = obj[k]
        if t == "num?":
            assert v is None or is_num(v), "%s.%s = %r" % (where, k, v)
        elif t == "num":
            assert is_num(v), "%s.%s = %r" % (where, k, v)
        elif t == "int":
            assert isinstance(v, int) and not isinstance(v, bool) and v >= 0, "%s.%s = %r" % (where, k, v)
        elif t == "str?":
            assert v is None or isinstance(v, str), "%s.%s" % (where, k)
        elif isinstance(t, dict):
            check_fields(v, t, where + "." + k)
        else:
            assert isinstance(v, t), "%s.%s = %r" % (where, k, v)


STATS_SCHEMA = {
    "version": str, "time_ms": "int", "uptime_s": "int", "threads": "int",
    "pool": {"source": str, "upstreams": "int", "generation": "int"},
    "totals": {"requests": "int", "ok": "int", "failed": "int", "success_rate": "num?", "attempts": "int",
               "retries": "int", "bytes_in": "int", "bytes_out": "int"},
    "failures_by_origin": {"client": "int", "gateway": "int", "proxy": "int", "target": "int", "network": "int"},
    "rates": {"requests_per_s_10s": "num?", "requests_per_s_60s": "num?", "success_rate_10s": "num?",
              "success_rate_60s": "num?", "retries_per_s_60s": "num?", "failures_per_s_60s": "num?"},
    "open_connections": "int", "retry_budget_usage": "num", "log_lines_dropped": "int",
    "upstreams": {"total": "int", "ejected": "int", "quarantined": "int", "in_flight": "int"},
    "domains": {"tracked": "int", "open": "int", "half_open": "int"},
    "top_failures": list,
}
UPSTREAM_SCHEMA = {"label": str, "address": "str?", "direct": bool, "tls": bool, "health": str, "in_flight": "int",
                   "attempts": "int", "failures": "int", "failure_rate": "num?", "failures_by_code": dict,
                   "latency_p50_ms": "num?", "ejected": bool, "quarantined": bool, "bans": "int",
                   "stats_tracked": bool}
DOMAIN_SCHEMA = {"domain": str, "attempts": "int", "failures": "int", "failure_rate": "num?", "breaker": str,
                 "retry_in_s": "num?", "paused": bool, "bans": "int"}
ERROR_SCHEMA = {"time_ms": "int", "time": str, "code": str, "origin": str, "class": str, "fix": str, "status": "int",
                "method": str, "url": str, "upstream": str, "attempts": "int", "ms": "int", "evidence": str}
CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def test_api_schemas(rotor, lab_pool):
    pool = lab_pool("proxies 4\nproxy 3 bad_auth\ntarget bans.lab ban_after=1\n")
    gw, adm = start_admin(rotor, pool)
    with session() as s:
        for host in ["ok.lab", "bans.lab", "flaky.lab"] * 4:
            s.get("http://%s/" % host, proxies=gw.proxies, timeout=20)
    time.sleep(1.3)  # one history tick at least
    st = adm.json("/api/v1/stats")
    check_fields(st, STATS_SCHEMA, "stats")
    assert st["totals"]["requests"] == 12 and st["threads"] == 1 and st["pool"]["upstreams"] == 4
    assert st["totals"]["ok"] + st["totals"]["failed"] == st["totals"]["requests"]
    assert sum(st["failures_by_origin"].values()) == st["totals"]["failed"]
    assert 0 < st["totals"]["success_rate"] < 1
    assert st["upstreams"]["quarantined"] == 1
    for f in st["top_failures"]:
        check_fields(f, {"code": str, "origin": str, "class": str, "fix": str, "count": "int", "last_60s": "int",
                         "share": "num"}, "top_failures[]")
        assert CODE_RE.match(f["code"]) and f["code"] != "ok" and f["fix"].endswith(".")
    counts = [f["count"] for f in st["top_failures"]]
    assert sum(counts) == st["totals"]["failed"]

    up = adm.json("/api/v1/upstreams")
    check_fields(up, {"generation": "int", "count": "int", "listed": "int", "workers": "int", "upstreams": list}, "upstreams")
    assert up["count"] == up["listed"] == 4
    for u in up["upstreams"]:
        check_fields(u, UPSTREAM_SCHEMA, "upstream")
        assert u["health"] in ("healthy", "ejected", "quarantined")
        assert re.fullmatch(r"127\.0\.0\.1:\d+", u["address"])
        assert all(CODE_RE.match(c) and n > 0 for c, n in u["failures_by_code"].items())
        assert sum(u["failures_by_code"].values()) == u["failures"] <= u["attempts"]
    p3 = up["upstreams"][2]
    assert p3["label"] == "lab-p3" and p3["health"] == "quarantined"
    assert p3["quarantine"]["code"] == "proxy_auth_failed"
    assert sum(u["attempts"] for u in up["upstreams"]) == st["totals"]["attempts"]
    assert adm.json("/api/v1/upstreams?limit=2")["listed"] == 2

    dm = adm.json("/api/v1/domains")
    check_fields(dm, {"tracked": "int", "open": "int", "half_open": "int", "window_s": "int", "listed": "int",
                      "domains": list}, "domains")
    names = [d["domain"] for d in dm["domains"]]
    assert {"ok.lab", "bans.lab", "flaky.lab"} <= set(names)
    for d in dm["domains"]:
        check_fields(d, DOMAIN_SCHEMA, "domain")
        assert d["breaker"] in ("closed", "open", "half_open")
    bans = {d["domain"]: d for d in dm["domains"]}["bans.lab"]
    assert bans["bans"] >= 1, "blocked exits must show as bans for bans.lab"
    assert sum(u["bans"] for u in up["upstreams"]) >= bans["bans"]

    er = adm.json("/api/v1/errors")
    check_fields(er, {"count": "int", "kept_per_worker": "int", "errors": list}, "errors")
    assert er["count"] == st["totals"]["failed"]
    for e in er["errors"]:
        check_fields(e, ERROR_SCHEMA, "error")
        assert e["origin"] in ("client", "gateway", "proxy", "target", "network")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"])
        assert "lab:lab" not in e["url"]

    hist = adm.json("/api/v1/history")
    check_fields(hist, {"interval_s": "int", "capacity": "int", "points": list}, "history")
    assert hist["capacity"] == 300 and hist["points"]
    for p in hist["points"]:
        check_fields(p, {"t_ms": "int", "requests": "int", "ok": "int", "attempts": "int", "retries": "int",
                         "failures": {"client": "int", "gateway": "int", "proxy": "int", "target": "int",
                                      "network": "int"}}, "point")
        assert p["ok"] + sum(p["failures"].values()) == p["requests"]
    assert sum(p["requests"] for p in hist["points"]) == 12
    last = hist["points"][-1]["t_ms"]
    assert adm.json("/api/v1/history?since=%d" % last)["points"] == []

    # Errors are JSON too, with the right status.
    for path, status in [("/api/v1/nothing", 404), ("/api/v1/errors?since=yesterday", 400),
                         ("/api/v1/history?since=-1", 400)]:
        r = adm.get(path)
        assert r.status_code == status and "error" in r.json(), path
    r = adm.post("/metrics")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
    r = adm.s.head(adm.base + "/api/v1/stats", timeout=5)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) > 0 and r.content == b""


def test_admin_refuses_dns_rebinding_and_cross_origin_actions(rotor):
    gw, adm = start_admin(rotor, ["direct"])
    r = adm.get("/api/v1/stats", headers={"Host": "attacker.example:8898"})
    assert r.status_code == 403 and "loopback" in r.json()["error"]
    assert adm.get("/api/v1/stats", headers={"Host": "localhost:1"}).status_code == 200
    r = adm.post("/api/v1/reload", headers={"Origin": "http://attacker.example"})
    assert r.status_code == 403
    assert '"event":"admin_reload"' not in gw.log_text()
    r = adm.post("/api/v1/reload", headers={"Origin": adm.base})
    assert r.status_code == 200


# ------------------------------------------------------------ access rules


def test_non_loopback_admin_refused_without_credentials(rotor_refused, run_dir):
    pool = run_dir / "admin-refused-pool.txt"
    pool.write_text("direct\n")
    status, err = rotor_refused(["serve", "--listen", "127.0.0.1:%d" % peers.free_port(), "--pool", pool,
                                 "--admin", "0.0.0.0:%d" % peers.free_port()])
    assert status == 1, err
    assert "refusing to serve the admin API on 0.0.0.0" in err
    assert "--admin-auth USER:PASS" in err and "127.0.0.1" in err
    status, err = rotor_refused(["serve", "--pool", pool, "--admin-auth", "a:b"])
    assert status == 2 and "--admin-auth needs --admin" in err


def test_admin_credentials_enforced(rotor):
    gw, adm = start_admin(rotor, ["direct"], auth=("ops", "s3cret:x"), host="0.0.0.0")
    bare = session()
    r = bare.get(adm.base + "/metrics", timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith('Basic realm="rotor admin"')
    assert bare.get(adm.base + "/metrics", auth=("ops", "wrong"), timeout=5).status_code == 401
    assert bare.post(adm.base + "/api/v1/reload", timeout=5).status_code == 401
    assert bare.get(adm.base + "/", timeout=5).status_code == 401
    assert adm.get("/metrics").status_code == 200
    # With credentials any Host name is fine (the server is meant to be reached remotely).
    assert adm.get("/api/v1/stats", headers={"Host": "rotor.internal:8898"}).status_code == 200
    assert '"event":"admin_reload"' not in gw.log_text()


# ------------------------------------------------------------ status line


def run_on_pty(args, seconds, traffic=None):
    """Run `rotor serve ARGS` with stderr on a pseudo-terminal for a few
    seconds (traffic() runs meanwhile); returns what it printed there."""
    master, slave = pty.openpty()
    port = peers.free_port()
    d = tempfile.mkdtemp(prefix="rotor-pty-")
    pool = Path(d) / "pool.txt"
    pool.write_text("direct\n")
    proc = subprocess.Popen([ROTOR, "serve", "--listen", "127.0.0.1:%d" % port, "--pool", str(pool)] + args,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave, env=NO_PROXY_ENV)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + seconds
    try:
        wait_for(lambda: peers.port_open(port), what="rotor on a pty")
        while time.monotonic() < deadline:
            if traffic:
                traffic(port)
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    break
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        os.close(master)
        shutil.rmtree(d, ignore_errors=True)
    return out.decode("utf-8", "replace")


def test_status_line_on_a_terminal(nginx):
    def traffic(port):
        with session() as s:
            s.get(nginx.url + "/", proxies={"http": "http://127.0.0.1:%d" % port}, timeout=5)
            s.get("http://127.0.0.1:%d/" % peers.free_port(), proxies={"http": "http://127.0.0.1:%d" % port},
                  timeout=5)
    out = run_on_pty([], 7.5, traffic)
    lines = [l for l in out.splitlines() if "req/s" in l]
    assert lines, out
    # Half the requests fail (target_refused until the breaker for 127.0.0.1 opens, then circuit_open).
    assert re.search(r"rotor: [0-9.]+ req/s  [0-9.]+% ok  [0-9.]+ retries/s  top failure: (target_refused|circuit_open) "
                     r"x\d+ \((network|gateway)\)  \d+ open", lines[0]), lines[0]
    quiet = run_on_pty(["--quiet"], 6.5, traffic)
    assert "req/s" not in quiet


# ------------------------------------------------------------ dashboard


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(args, timeout=60):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.fail("chromium is not installed (scripts/install-deps.sh check installs it)", pytrace=False)
    profile = tempfile.mkdtemp(prefix="rotor-chromium-")
    try:
        return subprocess.run([exe, *CHROMIUM_FLAGS, "--user-data-dir=" + profile, *args], capture_output=True,
                              text=True, timeout=timeout, env=NO_PROXY_ENV)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_dashboard_renders_live_numbers(rotor, lab_pool):
    pool = lab_pool("proxies 6\nproxy 3 refused\nproxy 5 bad_auth\nproxy 6 err503=0.5\ntarget bans.lab ban_after=3\n")
    gw, adm = start_admin(rotor, pool)
    page = adm.get("/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert not re.search(r"""(src|href)=["']https?://""", page.text), "the dashboard must not load anything external"
    hosts = ["ok.lab", "bans.lab", "flaky.lab", "down.lab", "ok.lab", "challenge.lab"]
    with session() as s:
        for i in range(42):
            s.get("http://%s/" % hosts[i % len(hosts)], proxies=gw.proxies, timeout=20)
            if i == 20:
                time.sleep(1.1)  # spread over two seconds of history
    time.sleep(1.2)
    st = adm.json("/api/v1/stats")
    assert st["totals"]["requests"] == 42
    res = chromium(["--virtual-time-budget=3000", "--dump-dom", adm.base + "/"])
    dom = res.stdout
    assert res.returncode == 0 and "<html" in dom, res.stderr[-2000:]

    def text_of(id_):
        m = re.search(r'id="%s"[^>]*>([^<]*)<' % re.escape(id_), dom)
        assert m, "no element #%s in the rendered page" % id_
        return m.group(1)
    assert text_of("total-requests") == "42"
    assert text_of("total-ok") == "{:,}".format(st["totals"]["ok"])
    assert text_of("total-failed") == "{:,}".format(st["totals"]["failed"])
    assert text_of("version") == st["version"]
    assert text_of("kpi-upstreams") == "%d / 6" % (6 - st["upstreams"]["ejected"] - st["upstreams"]["quarantined"])
    assert "live" in text_of("conn-text")
    for f in st["top_failures"][:3]:
        assert "<code>%s</code>" % f["code"] in dom, f["code"]
        assert f["fix"][:40].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in dom, f["fix"]
    for label in ("lab-p1", "lab-p3", "lab-p5"):
        assert "<b>%s</b>" % label in dom
    assert "quarantined</span>" in dom
    assert "<b>bans.lab</b>" in dom

    OUT.mkdir(exist_ok=True)
    shot = OUT / "dashboard.png"
    if shot.exists():
        shot.unlink()
    res = chromium(["--virtual-time-budget=3000", "--hide-scrollbars", "--window-size=1400,1000",
                    "--screenshot=" + str(shot), adm.base + "/"])
    assert shot.exists() and shot.stat().st_size > 20000, res.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
