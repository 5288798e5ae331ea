"""Graceful operation: SIGHUP reloads under load without failing a request,
SIGTERM drains in-flight requests up to --drain-timeout and exits 0, and
many requests of every kind leave no file descriptor behind."""
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest
import requests

import peers

TIMEOUT = 5


tag = peers.tag
session_for = peers.session_for


# ---------------------------------------------------------------------------
# The harness's own checks: a sanitizer report or a bad exit fails a test


def test_harness_flags_sanitizer_report_and_bad_exit(rotor_bin, run_dir):
    d = run_dir / "harness-self-test"
    fake_report = ['sh', '-c', 'echo "==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x1" >&2; '
                   'exec "$@"', 'sh']
    exit_3 = ['sh', '-c', '"$@" & p=$!; trap "kill -TERM $p; wait $p; exit 3" TERM; wait $p; wait $p', 'sh']
    cases = [("clean", (), []), ("report", fake_report, ["sanitizer report"]), ("exit3", exit_3, ["status 3"])]
    for name, prefix, want in cases:
        g = peers.Rotor(rotor_bin, d / name, "direct\n", prefix=prefix, extra_args=["--drain-timeout", "1000"])
        g.stop()
        got = g.problems()
        assert len(got) == len(want), (name, got)
        for w, p in zip(want, got):
            assert w in p, (name, got)
    assert peers.sanitizer_report("x\n==9==ERROR: LeakSanitizer: detected memory leaks\n").startswith("==9==")
    assert peers.sanitizer_report("a.c:3:5: runtime error: signed integer overflow") is not None
    assert peers.sanitizer_report("rotor: stopped\n") is None


# ---------------------------------------------------------------------------
# SIGHUP: signatures reload under load


NO_MATCH_SIG = """\
sig itest.never
vendor itest
layer target
code target_blocked
status 599
body never-matches-9b1c
source integration test
"""

MARKER_SIG = NO_MATCH_SIG + """
sig itest.marker404
vendor itest
layer target
code target_blocked_everywhere
status 404
body status 404
source integration test
"""


def test_sighup_reloads_signatures_under_load(rotor, nginx):
    gw = rotor("direct\n")
    sigs = gw.dir / "sigs.txt"
    sigs.write_text(NO_MATCH_SIG)
    gw.stop()
    gw = rotor("direct\n", extra_args=["--signatures", sigs])
    t = tag("sighup-sig")
    stop = threading.Event()
    results = []  # (status, X-Rotor-Error or None, path)

    def traffic():
        with session_for(gw) as s:
            i = 0
            while not stop.is_set():
                path = "/status/404?%s-%d" % (t, i) if i % 5 == 0 else "/tag/%s/%d" % (t, i)
                try:
                    r = s.get(nginx.url + path, timeout=TIMEOUT)
                    results.append((r.status_code, r.headers.get("X-Rotor-Error"), path))
                except requests.RequestException as e:
                    results.append((repr(e), None, path))
                i += 1

    ths = [threading.Thread(target=traffic, daemon=True) for _ in range(3)]
    for th in ths:
        th.start()
    try:
        peers.wait_until(lambda: len(results) >= 30, 10, what="traffic before the reload")
        before = list(results)
        tmp = sigs.with_suffix(".tmp")
        tmp.write_text(MARKER_SIG)
        os.replace(tmp, sigs)
        gw.sighup()
        peers.wait_until(lambda: any(e == "target_blocked_everywhere" for _, e, _ in results), 5,
                         what="the new signature to classify /status/404")
        n = len(results)
        # A broken file on the next reload keeps the signatures loaded.
        tmp.write_text("sig broken\nlayer nowhere\n")
        os.replace(tmp, sigs)
        gw.sighup()
        peers.wait_until(lambda: "reload_failed" in gw.stderr_text(), 5, gw.proc, "the bad reload to be reported")
        m = len(results)
        peers.wait_until(lambda: len(results) >= m + 30, 10, what="traffic after the reloads")
    finally:
        stop.set()
        for th in ths:
            th.join(TIMEOUT + 2)
    failed = [r for r in results if r[0] not in (200, 404)]
    assert not failed, "%d of %d requests failed across the reloads: %r" % (len(failed), len(results), failed[:5])
    assert not [r for r in before if r[1]], "the marker matched before it was loaded: %r" % before
    after_bad = [r for r in results[m:] if r[2].startswith("/status/404")]
    assert after_bad and all(r[1] == "target_blocked_everywhere" for r in after_bad), after_bad[:5]
    assert all(r[1] is None for r in results[n:] if r[0] == 200)


# ---------------------------------------------------------------------------
# SIGTERM: drain


def test_sigterm_drains_in_flight_and_refuses_new(rotor, origin):
    gw = rotor("direct\n", extra_args=["--drain-timeout", "8000"])
    host = "127.0.0.1:%d" % origin.port
    idle = peers.RawConn(gw.port)
    idle.send(("GET %s/before HTTP/1.1\r\nHost: %s\r\n\r\n" % (origin.url, host)).encode())
    assert idle.read_response().status == 200
    slow = peers.RawConn(gw.port, timeout=10)
    slow.send(("GET %s/slow?ms=2000 HTTP/1.1\r\nHost: %s\r\n\r\n" % (origin.url, host)).encode())
    time.sleep(0.3)
    t0 = time.monotonic()
    gw.proc.signal(signal.SIGTERM)
    # The idle keep-alive connection is closed at once, silently.
    assert idle.closed_by_peer(timeout=2) and idle.buf == b""
    # New connections are refused: the listener is gone.
    peers.wait_until(lambda: not peers.port_open(gw.port), 2, what="the listener to close")
    # The in-flight request completes, and says the connection ends.
    resp = slow.read_response(timeout=8)
    assert resp.status == 200 and resp.body == b"slow ok\n", resp
    gw.proc.popen.wait(5)
    took = time.monotonic() - t0
    assert gw.stop() == 0
    assert 1.4 < took < 5, "rotor exited %.1f s after SIGTERM; the slow request needed about 1.7 s" % took
    recs = gw.wait_records(lambda r: "/slow" in r.get("url", ""), 1)
    assert recs and recs[0]["status"] == 200
    idle.close()
    slow.close()


def test_sigterm_drain_deadline_cuts_and_exits_0(rotor, origin):
    gw = rotor("direct\n", extra_args=["--drain-timeout", "1000"])
    host = "127.0.0.1:%d" % origin.port
    conns = []
    for i in range(3):
        c = peers.RawConn(gw.port, timeout=10)
        c.send(("GET %s/slow?ms=6000&i=%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (origin.url, i, host)).encode())
        conns.append(c)
    # A CONNECT tunnel in use and a client halfway through its head.
    tun = peers.RawConn(gw.port)
    tun.send(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (host, host)).encode())
    assert tun.read_response(head_request=True).status == 200
    half = peers.RawConn(gw.port)
    half.send(b"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\nX-Half: ")
    time.sleep(0.3)
    t0 = time.monotonic()
    gw.proc.signal(signal.SIGTERM)
    gw.proc.popen.wait(5)
    took = time.monotonic() - t0
    assert gw.stop() == 0
    assert 0.8 < took < 3, took
    for c in conns + [tun, half]:
        assert c.closed_by_peer(timeout=2)
        c.close()


# ---------------------------------------------------------------------------
# No file-descriptor leak


WRK_SCRIPT = """
local reqs = {}
local function add(n, r) for _ = 1, n do reqs[#reqs + 1] = r end end
add(5, wrk.format("GET", "http://127.0.0.1:%(ngx)d/1k", { Host = "127.0.0.1:%(ngx)d" }))
add(1, wrk.format("GET", "http://127.0.0.1:%(ngx)d/status/404", { Host = "127.0.0.1:%(ngx)d" }))
add(1, wrk.format("GET", "http://127.0.0.1:%(ngx)d/1k", { Host = "127.0.0.1:%(ngx)d", Connection = "close" }))
add(1, wrk.format("POST", "http://127.0.0.1:%(ngx)d/post-nothing", { Host = "127.0.0.1:%(ngx)d" }, "body"))
add(1, wrk.format("GET", "http://127.0.0.2:%(dead)d/refused", { Host = "127.0.0.2:%(dead)d" }))
add(1, "GET http://127.0.0.1:%(ngx)d/bad HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nBad Header\\r\\n\\r\\n")
local i = 0
local done = 0
request = function()
  i = i + 1
  return reqs[(i %% #reqs) + 1]
end
response = function(status, headers, body)
  done = done + 1
  if done >= %(per_thread)d then wrk.thread:stop() end
end
"""


def socket_table():
    """inode -> (remote port, state) for every TCP socket on the machine."""
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(name).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            out[int(f[9])] = (int(f[2].rsplit(":", 1)[1], 16), f[3])
    return out


def fd_census(pid, upstream_ports):
    """(descriptors that are not idle upstream connections, idle upstream
    connections). Idle upstream connections are the keep-alive pool
    (bounded, closed after 20 s idle); everything else must come back to
    its level before the load."""
    table = socket_table()
    idle = other = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            port_state = table.get(int(link[8:-1]))
            if port_state and port_state[0] in upstream_ports:
                idle += 1
                continue
        other += 1
    return other, idle


def fd_links(pid):
    """Every descriptor of pid, as `ls -l /proc/PID/fd` shows it, with the
    remote port and TCP state of sockets."""
    table = socket_table()
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            link += " %r" % (table.get(int(link[8:-1])),)
        out.append(link)
    return sorted(out)


def side_traffic(gw, nginx, n_connect, n_abort, n_half):
    """CONNECT tunnels with a request inside, downloads abandoned midway,
    heads abandoned halfway."""
    host = "127.0.0.1:%d" % nginx.http_port
    for i in range(n_connect):
        with peers.RawConn(gw.port) as c:
            c.send(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (host, host)).encode())
            assert c.read_response(head_request=True).status == 200
            c.send(("GET /1k HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (host, "Connection: close\r\n" if i % 2 else "")).encode())
            assert c.read_response().status == 200
    for _ in range(n_abort):
        with peers.RawConn(gw.port) as c:
            c.send(("GET %s/big HTTP/1.1\r\nHost: %s\r\n\r\n" % (nginx.url, host)).encode())
            c._fill(time.monotonic() + 2)
    for _ in range(n_half):
        with peers.RawConn(gw.port) as c:
            c.send(("GET %s/x HTTP/1.1\r\nHost: " % nginx.url).encode())


def run_wrk(gw, nginx, total, script_dir, conns=16):
    dead = peers.free_port()
    script = script_dir / "mix.lua"
    script.write_text(WRK_SCRIPT % {"ngx": nginx.http_port, "dead": dead, "per_thread": total // 2})
    start = log_lines(gw)
    p = subprocess.Popen(["wrk", "-t2", "-c%d" % conns, "-d50s", "-s", str(script), gw.proxy_url],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # Each wrk thread stops after its share, but wrk's main thread sleeps
        # out the duration: interrupt it once rotor logged them all.
        peers.wait_until(lambda: log_lines(gw) - start >= total or p.poll() is not None, 45,
                         what="%d requests through rotor" % total)
        time.sleep(0.2)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        out = p.communicate(timeout=10)[0]
    return out.decode("latin-1")


def log_lines(gw):
    try:
        with open(gw.log_path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


REQUESTS = 20000  # bounded to fit `make check`; bench/soak.sh runs a million and more


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed (scripts/install-deps.sh check)")
def test_no_fd_leak_after_many_requests(rotor, nginx):
    gw = rotor("direct\n", extra_args=["--max-attempts", "2"])
    ports = {nginx.http_port}
    # Warm up every path once, so lazily opened files are counted before.
    run_wrk(gw, nginx, 400, gw.dir)
    side_traffic(gw, nginx, 5, 2, 2)
    # The level to come back to: the lowest seen once the warm-up's
    # connections have closed.
    samples = []
    for _ in range(6):
        time.sleep(0.2)
        samples.append(fd_census(gw.pid, ports))
    before, idle_before = min(samples)
    out = run_wrk(gw, nginx, REQUESTS, gw.dir)
    m = [l for l in out.splitlines() if "requests in" in l]
    assert m and int(m[0].split()[0]) >= REQUESTS * 0.95, out
    side_traffic(gw, nginx, 300, 50, 100)
    deadline = time.monotonic() + 5
    while True:
        after, idle_after = fd_census(gw.pid, ports)
        if after <= before or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    print("fd census: before %d (+%d idle upstream), after %d (+%d idle upstream)" % (before, idle_before, after, idle_after))
    assert after <= before, ("rotor holds %d more descriptors after %d requests (%d before, %d after; idle upstream "
                             "%d -> %d):\n%s" % (after - before, REQUESTS, before, after, idle_before, idle_after,
                                                 "\n".join(fd_links(gw.pid))))
    assert idle_after <= 512, idle_after
    assert gw.alive()
    # The access log saw them all (one record per request).
    recs = gw.wait_records(lambda r: True, REQUESTS, timeout=10)
    assert len(recs) >= REQUESTS


def test_idle_tunnels_give_their_pipes_back(rotor, nginx):
    # Each tunnel carries one exchange, then stays open and quiet. Its
    # splice pipes (two descriptors per direction) go back (at once after a
    # small exchange, within a quiet second after bulk), so an idle tunnel
    # costs its two sockets only.
    gw = rotor("direct\n")
    host = "127.0.0.1:%d" % nginx.http_port

    def pipes():
        n = 0
        for fd in os.listdir("/proc/%d/fd" % gw.pid):
            try:
                n += os.readlink("/proc/%d/fd/%s" % (gw.pid, fd)).startswith("pipe:")
            except OSError:
                pass
        return n

    base = pipes()  # the event loops' own
    conns = []
    try:
        for _ in range(40):
            c = peers.RawConn(gw.port)
            conns.append(c)
            c.send(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (host, host)).encode())
            assert c.read_response(head_request=True).status == 200
            c.send(("GET /1k HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
            assert c.read_response().status == 200
        peers.wait_until(lambda: pipes() == base, 5, gw.proc, "the idle tunnels' pipes to be closed")
        # The tunnels still work after their pipes went back.
        for c in conns[:5]:
            c.send(("GET /1k HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
            assert c.read_response().status == 200
    finally:
        for c in conns:
            c.close()
