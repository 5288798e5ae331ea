"""rotor serve under valgrind memcheck: a short scenario of plain requests,
keep-alive, a POST, CONNECT tunnels, proxy and target failures, a client
that leaves mid-body, a reload and SIGTERM, with zero memcheck errors and
no definite leak.

Runs the plain (not ASan) binary: ROTOR_VALGRIND_BIN, else build/rotor."""
import os
import re
import shutil
import time

import pytest
import requests

import peers

VALGRIND = shutil.which("valgrind")
TIMEOUT = 20  # memcheck runs rotor some 20-50 times slower


def valgrind_binary():
    b = os.environ.get("ROTOR_VALGRIND_BIN") or str(peers.REPO / "build" / "rotor")
    if not os.path.isfile(b):
        return None, "no plain rotor binary at %s (build it with `make`)" % b
    with open(b, "rb") as f:
        if b"__asan_init" in f.read():
            return None, "%s is an ASan build; valgrind needs the plain build (ROTOR_VALGRIND_BIN)" % b
    return b, None


@pytest.mark.skipif(not VALGRIND, reason="valgrind is not installed (scripts/install-deps.sh check)")
def test_memcheck_clean_scenario(run_dir, lab, nginx, origin, certs):
    binary, why = valgrind_binary()
    if not binary:
        pytest.fail(why, pytrace=False)
    d = run_dir / "rotor" / "valgrind"
    vlog = d / "valgrind.log"
    d.mkdir(parents=True, exist_ok=True)
    dead = peers.free_port()
    pool = "%s\n%s\nhttp://x:y@127.0.0.1:%d #dead\n" % (lab.sq1.pool_line(), lab.tp1.pool_line(form="colon"), dead)
    prefix = [VALGRIND, "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
              "--show-leak-kinds=definite", "--num-callers=30", "--log-file=%s" % vlog]
    gw = peers.Rotor(binary, d, pool, rotation="round-robin", prefix=prefix, wait=False,
                     extra_args=["--drain-timeout", "5000", "--max-attempts", "3"])
    try:
        gw.wait_ready(timeout=30)
        statuses = []
        with requests.Session() as s:
            s.trust_env = False
            s.proxies = gw.proxies
            for i in range(12):
                statuses.append(s.get("%s/tag/vg/%d" % (nginx.url, i), timeout=TIMEOUT).status_code)
            statuses.append(s.get(nginx.url + "/status/503", timeout=TIMEOUT).status_code)
            statuses.append(s.get(origin.url + "/chunked?size=70000", timeout=TIMEOUT).status_code)
            r = s.post(origin.url + "/echo/vg", data=b"v" * 50000, timeout=TIMEOUT)
            statuses.append(r.status_code)
            for i in range(4):
                statuses.append(s.get(nginx.https_url + "/", verify=str(certs.ca), timeout=TIMEOUT).status_code)
            statuses.append(s.get("http://127.0.0.1:%d/refused" % dead, timeout=TIMEOUT).status_code)
        assert statuses.count(200) >= 18, statuses
        # Client-side failures: malformed, forbidden port, loop, left mid-body.
        host = "127.0.0.1:%d" % origin.port
        for raw in [b"GET http://x/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                    b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n",
                    ("GET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: x\r\n\r\n" % gw.port).encode()]:
            resp = peers.raw_exchange(gw.port, raw, timeout=TIMEOUT)
            assert resp.status in (400, 403, 508), resp
        with peers.RawConn(gw.port, timeout=TIMEOUT) as c:
            c.send(("GET %s/chunked?size=3000000 HTTP/1.1\r\nHost: %s\r\n\r\n" % (origin.url, host)).encode())
            c._fill(time.monotonic() + TIMEOUT)
        with peers.RawConn(gw.port, timeout=TIMEOUT) as c:
            c.send(b"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: ")
        gw.sighup()
        peers.wait_until(lambda: "pool_reloaded" in gw.stderr_text(), TIMEOUT, gw.proc, "the reload")
        assert peers.raw_exchange(gw.port, ("GET %s/after HTTP/1.1\r\nHost: %s\r\n\r\n" % (origin.url, host)).encode(),
                                  timeout=TIMEOUT).status == 200
    finally:
        gw.stop_timeout = 40
        rc = gw.stop()
    report = vlog.read_text("utf-8", "replace") if vlog.exists() else ""
    m = re.search(r"ERROR SUMMARY: (\d+) errors", report)
    assert m, "no valgrind summary in %s:\n%s" % (vlog, report[-3000:])
    assert m.group(1) == "0" and rc == 0, "valgrind found errors (exit %r):\n%s" % (rc, report[-6000:])
    assert "definitely lost: 0 bytes" in report or "no leaks are possible" in report, report[-3000:]
    assert not peers.sanitizer_report(gw.stderr_text())
