"""Integration tests for `rotor lab`: real sockets, curl-like clients
(requests and raw sockets) against the lab's proxies and targets.

The binary comes from ROTOR_BIN (default build/rotor). Every lab runs on
free ports (--port-base 0) and announces itself through --state-out."""
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from simlab import ROTOR, NO_PROXY_ENV, start_lab, stop_lab



@pytest.fixture
def lab(tmp_path):
    labs = []

    def make(*args, **kw):
        st = start_lab(tmp_path, *args, name=f"lab{len(labs)}", **kw)
        labs.append(st)
        return st

    yield make
    for st in labs:
        rc, out, err = stop_lab(st)
        assert rc == 0, err
        assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def session():
    s = requests.Session()
    s.trust_env = False
    return s


def proxied(st, i=0):
    url = st["proxies"][i]["url"]
    return {"http": url, "https": url}


def get(st, url, i=0, **kw):
    with session() as s:
        return s.get(url, proxies=proxied(st, i), timeout=10, **kw)


def raw(port, data, timeout=5.0):
    """Send bytes to 127.0.0.1:port and read until the peer closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except ConnectionResetError:
            chunks.append(b"<RST>")
        except socket.timeout:
            chunks.append(b"<TIMEOUT>")
        return b"".join(chunks)


def basic():
    return b"Proxy-Authorization: Basic bGFiOmxhYg==\r\n"


# ---------------------------------------------------------------- CLI


def test_list_names_every_preset_on_one_line():
    out = subprocess.run([ROTOR, "lab", "--list"], capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    names = [l.split()[0] for l in lines]
    for want in ["healthy", "bad-credentials", "rate-limited", "ip-bans", "flaky-provider",
                 "target-down", "mixed"]:
        assert want in names
    assert all(len(l.split(None, 1)) == 2 for l in lines)


def test_bad_scenario_file_is_reported_with_line(tmp_path):
    sc = tmp_path / "bad.txt"
    sc.write_text("proxy 1 ok\nproxy 2 frobnicate\n")
    r = subprocess.run([ROTOR, "lab", "--scenario", str(sc), "--pool-out", str(tmp_path / "p.txt")],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert f"{sc}:2: unknown proxy option 'frobnicate'" in r.stderr
    assert not (tmp_path / "p.txt").exists()


def test_pool_file_is_written_and_parseable(lab):
    st = lab("--proxies", "4", "--scenario", "mixed")
    lines = [l for l in Path(st["pool_file"]).read_text().splitlines() if not l.startswith("#")]
    assert len(lines) == 4
    for i, line in enumerate(lines):
        m = re.fullmatch(r"http://lab:lab@127\.0\.0\.1:(\d+) #(lab-p\d+)", line)
        assert m, line
        assert int(m.group(1)) == st["proxies"][i]["port"]
        assert m.group(2) == f"lab-p{i + 1}"
    assert len({p["port"] for p in st["proxies"]}) == 4
    ca = Path(st["ca_file"])
    assert ca.parent == Path(st["pool_file"]).parent
    assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_credentials_are_percent_encoded_in_the_pool(lab):
    st = lab("--proxies", "1", "--user", "u@x", "--pass", "p:ss#1")
    line = Path(st["pool_file"]).read_text().splitlines()[1]
    assert line.startswith("http://u%40x:p%3Ass%231@127.0.0.1:")
    r = get(st, "http://ok.lab/ip")
    assert r.status_code == 200


# ---------------------------------------------------------------- proxies


def test_ip_echo_through_each_proxy_shows_its_exit(lab):
    st = lab("--proxies", "3")
    for i in range(3):
        r = get(st, "http://ok.lab/ip", i)
        assert r.status_code == 200
        assert r.json() == {"ip": st["proxies"][i]["exit"]}
        assert r.headers["X-Lab-Exit"] == st["proxies"][i]["exit"]
    assert st["proxies"][2]["exit"] == "10.77.0.3"


def test_407_on_wrong_or_missing_credentials(lab):
    st = lab("--proxies", "1")
    port = st["proxies"][0]["port"]
    with session() as s:
        r = s.get("http://ok.lab/ip", proxies={"http": f"http://lab:nope@127.0.0.1:{port}"}, timeout=5)
    assert r.status_code == 407
    assert r.headers["Proxy-Authenticate"] == 'Basic realm="lab"'
    assert r.headers["X-Squid-Error"].startswith("ERR_CACHE_ACCESS_DENIED")
    out = raw(port, b"GET http://ok.lab/ip HTTP/1.1\r\nHost: ok.lab\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 407 ")


def test_bad_credentials_scenario_rejects_the_pools_own_credentials(lab):
    st = lab("--proxies", "2", "--scenario", "bad-credentials")
    for i in range(2):
        r = get(st, "http://ok.lab/", i)
        assert r.status_code == 407
        assert 'Basic realm="lab"' in r.headers["Proxy-Authenticate"]


def test_refused_port_is_reserved_and_refuses(lab):
    st = lab(scenario_text="proxies 3\nproxy 2 refused\n")
    port = st["proxies"][1]["port"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=3)
    # Reserved: nobody else can bind it while the lab runs.
    s = socket.socket()
    with pytest.raises(OSError):
        s.bind(("127.0.0.1", port))
    s.close()
    assert get(st, "http://ok.lab/ip", 0).status_code == 200


def test_target_down_gives_502_with_squid_header(lab):
    st = lab("--proxies", "1", "--scenario", "target-down")
    r = get(st, "http://flaky.lab/")
    assert r.status_code == 502
    assert r.headers["X-Squid-Error"] == "ERR_CONNECT_FAIL 111"
    assert "(111) Connection refused" in r.text
    assert get(st, "http://ok.lab/ip").status_code == 200


def test_unknown_hosts_get_dns_errors_in_each_style(lab):
    st = lab(scenario_text="proxies 3\nproxy 2 style=brd\nproxy 3 style=rfc9209\n")
    r = get(st, "http://example.com/", 0)
    assert r.status_code == 503 and r.headers["X-Squid-Error"].startswith("ERR_DNS_FAIL")
    r = get(st, "http://example.com/", 1)
    assert r.status_code == 502 and r.headers["x-brd-error-code"] == "resolve_failed_nxdomain"
    r = get(st, "http://nowhere.lab/", 2)
    assert r.status_code == 502
    assert re.search(r"error=dns_error", r.headers["Proxy-Status"])
    # Addresses other than the lab's own are refused, never connected to.
    r = get(st, "http://10.1.2.3/", 0)
    assert r.status_code == 403 and r.headers["X-Squid-Error"].startswith("ERR_ACCESS_DENIED")


def test_provider_errors_and_quota(lab):
    st = lab(scenario_text="proxies 3\nproxy 1 err503\nproxy 2 quota style=brd\n"
                           "proxy 3 err502 style=rfc9209\n")
    r = get(st, "http://ok.lab/", 0)
    assert r.status_code == 503 and r.headers["X-Squid-Error"].startswith("ERR_CANNOT_FORWARD")
    r = get(st, "http://ok.lab/", 1)
    assert r.status_code == 403
    assert r.headers["x-brd-err-code"] == "client_10100"
    assert "Usage limit" in r.headers["x-brd-error"]
    r = get(st, "http://ok.lab/", 2)
    assert r.status_code == 502
    assert r.headers["Proxy-Status"].startswith("lab-p3; error=proxy_internal_error")


def test_fault_sequence_is_reproducible_from_the_seed(tmp_path):
    text = "proxies 1\nproxy 1 err502=0.5\n"
    seqs = []
    for run in range(2):
        st = start_lab(tmp_path, scenario_text=text, name=f"run{run}")
        try:
            with session() as s:
                seqs.append([s.get("http://ok.lab/", proxies=proxied(st), timeout=5).status_code
                             for _ in range(30)])
        finally:
            assert stop_lab(st)[0] == 0
    assert seqs[0] == seqs[1]
    assert 5 < seqs[0].count(502) < 25


def test_reset_and_truncate_cut_the_response(lab):
    st = lab(scenario_text="proxies 2\nproxy 1 reset\nproxy 2 truncate\n")
    req = b"GET http://ok.lab/bytes/100000 HTTP/1.1\r\nHost: ok.lab\r\n" + basic() + b"\r\n"
    out = raw(st["proxies"][0]["port"], req)
    assert out.startswith(b"HTTP/1.1 200 ") and out.endswith(b"<RST>")
    body = out.split(b"\r\n\r\n", 1)[1]
    assert len(body) - len(b"<RST>") < 100000
    out = raw(st["proxies"][1]["port"], req)
    assert out.startswith(b"HTTP/1.1 200 ") and not out.endswith(b"<RST>")
    body = out.split(b"\r\n\r\n", 1)[1]
    assert len(body) == 50000  # half of Content-Length, then a clean close


def test_blackhole_accepts_and_never_answers(lab):
    st = lab(scenario_text="proxies 1\nproxy 1 blackhole\n")
    with socket.create_connection(("127.0.0.1", st["proxies"][0]["port"]), timeout=1.0) as s:
        s.sendall(b"GET http://ok.lab/ HTTP/1.1\r\nHost: ok.lab\r\n" + basic() + b"\r\n")
        with pytest.raises(socket.timeout):
            s.recv(1)


def test_slow_first_byte(lab):
    st = lab(scenario_text="proxies 1\nproxy 1 slow slow_ms=400\n")
    t0 = time.time()
    assert get(st, "http://ok.lab/ip").status_code == 200
    assert time.time() - t0 >= 0.38


# ---------------------------------------------------------------- targets


def test_rate_limit_429_with_retry_after_per_exit(lab):
    st = lab("--proxies", "2", scenario_text="target ratelimit.lab rate=3/10s\n")
    codes = [get(st, "http://ratelimit.lab/", 0).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    r = get(st, "http://ratelimit.lab/", 0)
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 10
    assert r.headers["X-Lab-Exit"] == st["proxies"][0]["exit"]
    # Another exit IP has its own budget.
    assert get(st, "http://ratelimit.lab/", 1).status_code == 200


def test_ban_403_block_page_after_k_requests(lab):
    st = lab("--proxies", "2", scenario_text="target bans.lab ban_after=4 page=cloudflare\n")
    assert [get(st, "http://bans.lab/", 0).status_code for _ in range(4)] == [200] * 4
    r = get(st, "http://bans.lab/", 0)
    assert r.status_code == 403
    assert "<title>Attention Required! | Cloudflare</title>" in r.text
    assert re.fullmatch(r"[0-9a-f]{16}-[A-Z]{3}", r.headers["CF-RAY"])
    assert r.headers["Server"] == "cloudflare"
    assert get(st, "http://bans.lab/", 0).status_code == 403  # stays banned
    assert get(st, "http://bans.lab/", 1).status_code == 200


def test_challenge_page(lab):
    st = lab("--proxies", "1", scenario_text="target shop.lab ban_after=1 page=challenge\n")
    assert get(st, "http://shop.lab/").status_code == 200
    r = get(st, "http://shop.lab/")
    assert r.status_code == 403
    assert r.headers["cf-mitigated"] == "challenge"
    assert "<title>Just a moment...</title>" in r.text


def test_connect_to_https_target_with_the_lab_ca(lab):
    st = lab("--proxies", "2")
    r = get(st, "https://ok.lab/ip", 1, verify=st["ca_file"])
    assert r.status_code == 200
    assert r.json() == {"ip": st["proxies"][1]["exit"]}
    # Without the CA the certificate is not trusted.
    with pytest.raises(requests.exceptions.SSLError):
        get(st, "https://ok.lab/ip", 1)
    # Inside a tunnel the target learns the exit from the PROXY line.
    r = get(st, "https://ok.lab/echo", 1, verify=st["ca_file"], headers={"X-Test": "1"})
    body = r.json()
    assert body["tls"] is True and body["exit"] == st["proxies"][1]["exit"]


def test_curl_connect_with_cacert(lab):
    st = lab("--proxies", "1")
    out = subprocess.run(["curl", "-s", "--cacert", st["ca_file"], "-x", st["proxies"][0]["url"],
                          "https://bans.lab/ip"], capture_output=True, text=True, timeout=10,
                         env=NO_PROXY_ENV)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"ip": st["proxies"][0]["exit"]}


def test_echo_shows_what_reached_the_target(lab):
    st = lab("--proxies", "1")
    r = get(st, "http://ok.lab/echo?q=1", headers={"X-Custom": 'a"b', "X-Lab-Exit": "spoofed"})
    body = r.json()
    names = [h[0].lower() for h in body["headers"]]
    hdrs = {h[0].lower(): h[1] for h in body["headers"]}
    assert body["target"] == "/echo?q=1" and body["host"] == "ok.lab"
    assert hdrs["x-custom"] == 'a"b'
    assert hdrs["x-lab-exit"] == st["proxies"][0]["exit"]  # the client's value is replaced
    assert names.count("x-lab-exit") == 1
    assert "proxy-authorization" not in names


def test_target_paths_direct(lab):
    st = lab("--proxies", "1")
    base = f"http://127.0.0.1:{st['targets']['http_port']}"
    with session() as s:
        assert len(s.get(base + "/1k").content) == 1024
        r = s.get(base + "/bytes/123456")
        assert len(r.content) == 123456 and r.headers["Content-Length"] == "123456"
        r = s.get(base + "/chunked/70000")
        assert len(r.content) == 70000 and r.headers["Transfer-Encoding"] == "chunked"
        assert s.get(base + "/status/418").status_code == 418
        assert s.get(base + "/status/204").status_code == 204
        t0 = time.time()
        assert s.get(base + "/slow/300").status_code == 200
        assert time.time() - t0 >= 0.28
        assert s.get(base + "/nothing").status_code == 404
        assert s.get(base + "/ip").json() == {"ip": "127.0.0.1"}
        assert s.get(base + "/ip", headers={"X-Lab-Exit": "1.2.3.4"}).json() == {"ip": "1.2.3.4"}
    # A lab target port works through the proxy as 127.0.0.1:PORT too.
    r = get(st, base + "/ip")
    assert r.json() == {"ip": st["proxies"][0]["exit"]}


def test_keep_alive_and_pipelining_on_the_proxy(lab):
    st = lab("--proxies", "1")
    one = b"GET http://ok.lab/ip HTTP/1.1\r\nHost: ok.lab\r\n" + basic() + b"\r\n"
    last = b"GET http://ok.lab/ip HTTP/1.1\r\nHost: ok.lab\r\nConnection: close\r\n" + basic() + b"\r\n"
    out = raw(st["proxies"][0]["port"], one * 3 + last)
    assert out.count(b"HTTP/1.1 200 OK") == 4
    assert out.count(b'{"ip": "10.77.0.1"}') == 4


# ---------------------------------------------------------------- lifecycle


def test_sigterm_exits_cleanly_without_children(tmp_path):
    st = start_lab(tmp_path, "--proxies", "3")
    pid = st["_proc"].pid
    assert st["pid"] == pid
    get(st, "http://ok.lab/")
    children = [p for p in os.listdir("/proc") if p.isdigit() and
                _ppid(p) == pid]
    assert children == []
    rc, out, err = stop_lab(st)
    assert rc == 0, err
    assert "rotor lab:" in out
    assert not Path(st["_dir"] / "state.json").exists()
    assert Path(st["pool_file"]).exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", st["proxies"][0]["port"]), timeout=2)


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return -1


def test_duration_stops_the_lab(tmp_path):
    st = start_lab(tmp_path, "--proxies", "1", "--duration", "1")
    assert st["_proc"].wait(timeout=10) == 0


# ---------------------------------------------------------------- driver


def test_drive_counts_what_the_client_sees(lab, tmp_path):
    st = lab("--proxies", "1", scenario_text="target ratelimit.lab rate=5/60s\n")
    urls = tmp_path / "urls.txt"
    urls.write_text("# comment\nhttp://ok.lab/ip\nhttp://ratelimit.lab/\n")
    summary = tmp_path / "sum.json"
    r = subprocess.run([ROTOR, "lab", "--drive", str(urls), "--proxy", st["proxies"][0]["url"],
                        "--requests", "40", "--concurrency", "4", "--summary-json", str(summary),
                        "--no-progress"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    s = json.loads(summary.read_text())
    assert s["requests"] == 40
    assert s["by_status"] == {"200": 25, "429": 15}
    assert s["ok"] == 25 and abs(s["success_rate"] - 25 / 40) < 1e-9
    assert s["by_error"] == {"http_429": 15}
    assert s["lab_faults"] == {"rate_limit": 15}
    assert "success: 25/40" in r.stdout


def test_drive_reports_refused_connections(lab, tmp_path):
    st = lab(scenario_text="proxies 1\nproxy 1 refused\n")
    summary = tmp_path / "sum.json"
    r = subprocess.run([ROTOR, "lab", "--drive", "http://ok.lab/", "--proxy", st["proxies"][0]["url"],
                        "--requests", "5", "--concurrency", "2", "--summary-json", str(summary)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    s = json.loads(summary.read_text())
    assert s["ok"] == 0 and s["by_error"] == {"connection_refused": 5}


def test_drive_refuses_non_loopback_proxy():
    r = subprocess.run([ROTOR, "lab", "--drive", "http://ok.lab/", "--proxy", "http://10.0.0.1:8080"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "loopback" in r.stderr
