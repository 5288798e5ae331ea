"""Heal what can heal: the issue's scenarios end to end on the simulated
pool. Counts come from rotor's access log (one record per request, every
attempt inside it) and, where it matters, from what the client saw."""
import json
import time

import pytest
import requests

from simlab import start_lab, stop_lab

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
           "Accept": "text/html", "Accept-Language": "en-US"}


@pytest.fixture
def simlab(tmp_path):
    labs = []

    def make(text):
        st = start_lab(tmp_path, scenario_text=text, name="lab%d" % len(labs))
        labs.append(st)
        return st

    yield make
    for st in labs:
        rc, _, err = stop_lab(st)
        assert rc == 0, err


def session(g):
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"http": g.proxy_url, "https": g.proxy_url}
    s.headers.update(BROWSER)
    return s


def concurrent_gets(g, url, n):
    """n GETs of url at once, each on its own connection; their statuses."""
    import threading
    results = []

    def one():
        with session(g) as s:
            results.append(s.get(url, timeout=15).status_code)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return results


def records(g, n):
    recs = g.wait_records(lambda r: "event" not in r, n, timeout=10)
    return [r for r in recs if "event" not in r]


def test_dead_and_bad_credential_entries_cost_nothing_and_stop_being_used(simlab, rotor):
    st = simlab("proxies 4\nproxy 1 refused\nproxy 2 bad_auth\n")
    g = rotor(open(st["pool_file"]).read())
    n = 1000
    with session(g) as s:
        statuses = [s.get("http://ok.lab/", timeout=10).status_code for _ in range(n)]
    assert statuses.count(200) == n
    recs = records(g, n)
    used = {}
    for r in recs:
        for a in r["attempts"]:
            used[a["upstream"]] = used.get(a["upstream"], 0) + 1
    # Each broken entry is tried until quarantined: once or twice, not again.
    assert used.get("lab-p1", 0) <= 2 and used.get("lab-p2", 0) <= 2, used
    assert used["lab-p3"] + used["lab-p4"] >= n
    events = [json.loads(l) for l in open(g.log_path) if '"event"' in l]
    quarantined = {e["detail"].split()[0] for e in events if e["event"] == "upstream_quarantined"}
    assert quarantined == {"lab-p1", "lab-p2"}


def test_reload_keeps_what_was_learned_about_entries_that_stay(simlab, rotor):
    # One thread, so one set of learned state. The broken entries are
    # quarantined, then the pool file is rewritten in another order with a
    # new entry: the quarantines follow their entries to their new places.
    st = simlab("proxies 5\nproxy 1 refused\nproxy 2 bad_auth\n")
    lines = [l for l in open(st["pool_file"]).read().splitlines() if l and not l.startswith("#")]
    g = rotor("\n".join(lines[:4]) + "\n", extra_args=["--threads", "1"])
    with session(g) as s:
        assert [s.get("http://ok.lab/", timeout=10).status_code for _ in range(20)] == [200] * 20
    records(g, 20)
    g.write_pool("\n".join([lines[3], lines[1], lines[4], lines[0], lines[2]]) + "\n")
    g.sighup()
    g.wait_records(lambda r: r.get("event") == "pool_reloaded", 1, timeout=10)
    with session(g) as s:
        assert [s.get("http://ok.lab/", timeout=10).status_code for _ in range(30)] == [200] * 30
    recs = records(g, 50)[20:]
    used = {}
    for r in recs:
        for a in r["attempts"]:
            used[a["upstream"]] = used.get(a["upstream"], 0) + 1
    # Not one more attempt on the broken ones; the new entry takes its share.
    assert "lab-p1" not in used and "lab-p2" not in used, used
    assert used.get("lab-p5", 0) >= 5, used


def test_a_ban_learned_on_one_thread_holds_on_the_others(simlab, rotor):
    # The site blocks every exit from its second request on. Requests come
    # one at a time, each on a new connection, so they land on both
    # threads: once an exit is banned on one thread, no thread sends it
    # there again (one block per exit at most; once blocks come from every
    # exit, rotor answers target_blocked_everywhere instead of rotating).
    st = simlab("proxies 4\ntarget bans.lab ban_after=1\n")
    g = rotor(open(st["pool_file"]).read(), extra_args=["--threads", "2"])
    for _ in range(12):
        with session(g) as s:
            s.get("http://bans.lab/", timeout=10)
    blocked = {}
    for r in records(g, 12):
        for a in r["attempts"]:
            if a["code"] == "target_blocked":
                blocked[a["upstream"]] = blocked.get(a["upstream"], 0) + 1
    # Blocks did happen, and no exit was sent to the site again after one.
    assert blocked and all(n == 1 for n in blocked.values()), blocked


def test_retry_after_is_honoured_before_the_retry(simlab, rotor):
    st = simlab("proxies 1\ntarget ratelimit.lab rate=1/2s\n")
    g = rotor(open(st["pool_file"]).read())
    with session(g) as s:
        assert s.get("http://ratelimit.lab/", timeout=10).status_code == 200  # uses the window's one request
        t0 = time.monotonic()
        r = s.get("http://ratelimit.lab/", timeout=15)
        waited = time.monotonic() - t0
    assert r.status_code == 200 and r.headers["X-Rotor-Attempts"] == "2"
    rec = records(g, 2)[-1]
    first = rec["attempts"][0]
    assert first["code"] == "target_rate_limited" and first["status"] == 429
    # The lab's window is 2 s from the first request, so the second one
    # got Retry-After: 2 (ceil of what was left): the retry may not leave
    # sooner. A lower bound on waiting, not a speed target.
    assert waited >= 2.0 and rec["ms"] >= 2000, rec


def test_failing_domain_trips_its_breaker_while_another_flows(simlab, rotor):
    st = simlab("proxies 2\ntarget half.lab ok\n")
    g = rotor(open(st["pool_file"]).read(), extra_args=["--max-attempts", "1"])
    half = ["http://half.lab/", "http://half.lab/status/500"]
    seen = {"half": [], "ok": []}
    with session(g) as s:
        for i in range(80):
            r = s.get(half[i % 2], timeout=10)
            seen["half"].append(r.headers.get("X-Rotor-Error", "ok"))
            r2 = s.get("http://ok.lab/", timeout=10)
            seen["ok"].append(r2.status_code)
    assert all(code == 200 for code in seen["ok"])
    assert "circuit_open" in seen["half"], seen["half"]
    # It opened only after the window held enough requests to judge.
    assert "circuit_open" not in seen["half"][:20]
    events = [json.loads(l) for l in open(g.log_path) if '"event"' in l]
    assert any(e["event"] == "breaker" and e["detail"].startswith("half.lab: closed -> open") for e in events)
    opened = [r for r in records(g, 160) if r["code"] == "circuit_open"]
    assert opened and all(r["attempts"] == [] and r["origin"] == "gateway" for r in opened)


def test_a_pool_that_fails_everything_cannot_exceed_the_retry_budget(simlab, rotor):
    st = simlab("proxies 4\nproxy * err502 style=brd\n")
    g = rotor(open(st["pool_file"]).read())
    n = 200
    codes = []
    with session(g) as s:
        for _ in range(n):
            codes.append(s.get("http://ok.lab/", timeout=10).headers.get("X-Rotor-Error"))
    recs = records(g, n)
    attempts = sum(len(r["attempts"]) for r in recs)
    retries = attempts - len(recs)
    elapsed_windows = 1 + int((time.time() - st.get("_t0", time.time())) // 10)
    # Budget: 20% of requests plus a floor of 10 per 10 s window.
    assert retries <= 0.2 * n + 10 * (elapsed_windows + 1), (retries, attempts)
    assert "retry_budget_exhausted" in codes
    assert all(c in ("proxy_overloaded", "retry_budget_exhausted", "no_healthy_upstream") for c in codes), set(codes)


def test_exhausted_primary_pool_escalates_the_domain_to_the_fallback(simlab, rotor, tmp_path):
    # One lab, four exits: the first two form the primary pool, the last two
    # the fallback. The target bans each exit after its first request.
    st = simlab("proxies 4\ntarget shop.lab ban_after=1 page=cloudflare\n")
    lines = [l for l in open(st["pool_file"]).read().splitlines() if l and not l.startswith("#")]
    fallback = tmp_path / "fallback.txt"
    fallback.write_text("\n".join(lines[2:]) + "\n")
    g = rotor("\n".join(lines[:2]) + "\n", extra_args=["--fallback-pool", str(fallback)])
    with session(g) as s:
        codes = [s.get("http://shop.lab/", timeout=10).status_code for _ in range(4)]
        other = s.get("http://ok.lab/", timeout=10)
    assert codes[:3] == [200, 200, 200], codes
    recs = records(g, 5)
    third = recs[2]
    used = [a["upstream"] for a in third["attempts"]]
    assert used[-1] in ("lab-p3", "lab-p4") and third["status"] == 200, third
    events = [json.loads(l) for l in open(g.log_path) if '"event"' in l]
    assert any(e["event"] == "pool_escalated" and e["detail"].startswith("shop.lab") for e in events), events
    # Other domains keep the primary pool.
    assert recs[4]["attempts"][0]["upstream"] in ("lab-p1", "lab-p2") and other.status_code == 200


def test_max_inflight_queues_instead_of_failing(simlab, rotor):
    st = simlab("proxies 1\n")
    g = rotor(open(st["pool_file"]).read(), extra_args=["--max-inflight", "1"])
    assert concurrent_gets(g, "http://ok.lab/slow/300", 3) == [200, 200, 200]
    recs = records(g, 3)
    # One at a time: each later request spent its wait before its attempt.
    durations = sorted(r["ms"] for r in recs)
    assert durations[2] >= 3 * 300 - 50, durations


def test_domain_politeness_limits(simlab, rotor):
    st = simlab("proxies 3\n")
    # Two threads and a connection per request: the limits are the whole
    # process's, whichever thread a connection lands on.
    g = rotor(open(st["pool_file"]).read(),
              extra_args=["--threads", "2", "--domain-rate", "5", "--domain-concurrency", "1"])
    t0 = time.monotonic()
    for _ in range(6):
        with session(g) as s:
            assert s.get("http://ok.lab/", timeout=10).status_code == 200
    # Five a second: the sixth request cannot start before 1 s has passed.
    assert time.monotonic() - t0 >= 1.0
    assert concurrent_gets(g, "http://slow.lab/slow/300", 4) == [200] * 4
    recs = [r for r in records(g, 10) if "slow.lab" in r["url"]]
    # One at a time for the domain, although three exits were free: the
    # last of four waited for the three before it.
    assert max(r["ms"] for r in recs) >= 4 * 300 - 50, [r["ms"] for r in recs]


def test_active_health_checks_quarantine_a_failing_entry_and_readmit_it(simlab, rotor, tmp_path):
    # Two entries; the second's credentials are wrong, so its own hop fails
    # every check. A fixed pool then brings it back (the reload starts the
    # checker's history afresh, and the entry passes).
    st = simlab("proxies 2\nproxy 2 bad_auth\n")
    pool = open(st["pool_file"]).read()
    g = rotor(pool, extra_args=["--health-check", "http://ok.lab/ip", "--health-interval", "300",
                                "--threads", "2"])

    def events(kind):
        return [json.loads(l) for l in open(g.log_path) if '"event":"%s"' % kind in l]

    deadline = time.time() + 10
    while time.time() < deadline and not events("health_check_failed"):
        time.sleep(0.1)
    failed = events("health_check_failed")
    assert failed and failed[0]["detail"].startswith("lab-p2:"), failed
    assert "proxy_auth" in failed[0]["detail"]
    # Quarantined on every thread: no client request reaches lab-p2 any more.
    with session(g) as s:
        for _ in range(20):
            assert s.get("http://ok.lab/", timeout=10).status_code == 200
    recs = records(g, 20)
    assert all(a["upstream"] == "lab-p1" for r in recs for a in r["attempts"])
    assert not events("health_check_recovered")
