"""Real peers for rotor's integration tests: nginx, a Python origin, squid and
tinyproxy as authenticated upstream proxies, a test CA, and the rotor process
itself. Everything listens on 127.0.0.1 only, lives in one run directory and
is stopped by stop_all() (the conftest calls it from session finalizers).
"""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PYTHON = "/usr/bin/python3"
NGINX = "/usr/sbin/nginx"
SQUID = "/usr/sbin/squid"
SQUID_NCSA = "/usr/lib/squid/basic_ncsa_auth"
TINYPROXY = "/usr/bin/tinyproxy"
OPENSSL = "openssl"

START_TIMEOUT = 10.0  # seconds any peer (and rotor) gets to become ready
STOP_TIMEOUT = 5.0    # seconds between SIGTERM and SIGKILL
BIG_SIZE = 100 * 1024 * 1024  # nginx's /big file

_registry = []  # every Proc started in this interpreter
_run_dir = None  # this run's directory, once new_run_dir() made it
_registry_lock = threading.RLock()

PR_SET_PDEATHSIG = 1
try:
    import ctypes
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


def _die_with_parent():
    """In the child before exec: get SIGTERM if the test process dies
    without cleaning up (e.g. SIGKILL). squid loses this when it changes
    credentials; its stop() covers the normal path."""
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class PeerError(RuntimeError):
    pass


def free_port():
    """A port that was free a moment ago (bind port 0 on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path, limit=4000):
    try:
        data = Path(path).read_bytes()
    except OSError:
        return "(no %s)" % path
    return data[-limit:].decode("utf-8", "replace")


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class Proc:
    """A child process in its own session (so its helpers can be reaped by
    process group), stdout/stderr in files under its directory."""

    def __init__(self, name, argv, directory, env=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.dir / ("%s.stdout" % name)
        self.stderr_path = self.dir / ("%s.stderr" % name)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                          cwd=str(self.dir), env=env, start_new_session=True,
                                          preexec_fn=_die_with_parent)
        self.pid = self.popen.pid
        with _registry_lock:
            _registry.append(self)
        if _run_dir is not None:
            with open(_run_dir / "pids", "a") as f:
                f.write("%d\n" % self.pid)

    def alive(self):
        return self.popen.poll() is None

    def stderr_text(self):
        return self.stderr_path.read_text("utf-8", "replace") if self.stderr_path.exists() else ""

    def stdout_text(self):
        return self.stdout_path.read_text("utf-8", "replace") if self.stdout_path.exists() else ""

    def describe(self, extra_logs=()):
        parts = ["%s (pid %d, %s) argv: %s" % (self.name, self.pid,
                                              "running" if self.alive() else "exit %s" % self.popen.returncode,
                                              " ".join(self.argv))]
        for p in [self.stdout_path, self.stderr_path, *extra_logs]:
            parts.append("--- %s:\n%s" % (p, tail(p)))
        return "\n".join(parts)

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def children(self):
        """PIDs whose parent is this process (squid starts its helpers in
        sessions of their own, so the process group does not cover them)."""
        out = []
        for st in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = st.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.pid:
                out.append(int(st.parent.name))
        return out

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait, then SIGKILL the whole process group and any direct
        child left. Returns the exit status."""
        kids = self.children() if self.alive() else []
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Helpers (squid's auth helper) share the group; kill any left.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(2)
        except subprocess.TimeoutExpired:
            pass
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # Orphaned helpers are reaped by init; wait (bounded) until they are
        # gone so a later `pgrep` finds nothing left of this run.
        deadline = time.monotonic() + 3.0
        while kids and time.monotonic() < deadline:
            kids = [k for k in kids if os.path.exists("/proc/%d" % k)]
            time.sleep(0.05)
        with _registry_lock:
            if self in _registry:
                _registry.remove(self)
        return self.popen.returncode


def stop_all():
    """Stop every process still registered, in parallel (squid takes a few
    seconds to shut down)."""
    with _registry_lock:
        procs = list(_registry)
    threads = [threading.Thread(target=p.stop) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(STOP_TIMEOUT + 5)


def wait_until(pred, timeout, proc=None, what="condition", logs=()):
    """Poll pred() until it is true; fail with the process's output if the
    process dies or the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return
        if proc is not None and not proc.alive():
            raise PeerError("%s exited while waiting for %s\n%s" % (proc.name, what, proc.describe(logs)))
        if time.monotonic() > deadline:
            msg = "timed out after %.1fs waiting for %s" % (timeout, what)
            if proc is not None:
                msg += "\n" + proc.describe(logs)
            raise PeerError(msg)
        time.sleep(0.05)


def run(argv, timeout=30, **kw):
    return subprocess.run([str(a) for a in argv], timeout=timeout, check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def file_contains(path, needle):
    try:
        return needle in Path(path).read_text("utf-8", "replace")
    except OSError:
        return False


# --------------------------------------------------------------------------
# Test CA and server certificate


class Certs:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost
    (EC P-256), made with the openssl CLI."""

    def __init__(self, directory):
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.dir = d
        self.ca = d / "ca.pem"
        self.ca_key = d / "ca.key"
        self.cert = d / "server.pem"
        self.key = d / "server.key"
        ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        run([OPENSSL, "genpkey", *ec, "-out", self.ca_key])
        run([OPENSSL, "req", "-x509", "-new", "-key", self.ca_key, "-sha256", "-days", "2",
             "-subj", "/CN=rotor integration test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", self.ca])
        run([OPENSSL, "genpkey", *ec, "-out", self.key])
        csr = d / "server.csr"
        run([OPENSSL, "req", "-new", "-key", self.key, "-subj", "/CN=127.0.0.1", "-out", csr])
        ext = d / "server.ext"
        ext.write_text("basicConstraints=CA:FALSE\n"
                       "keyUsage=critical,digitalSignature\n"
                       "extendedKeyUsage=serverAuth\n"
                       "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run([OPENSSL, "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext, "-out", self.cert])


# --------------------------------------------------------------------------
# The Python origin


class Origin:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.log = self.dir / "origin.log"
        self.proc = Proc("origin", [PYTHON, HERE / "origin.py", "--log", self.log], self.dir)
        m = []

        def ready():
            m[:] = re.findall(r"listening on 127\.0\.0\.1:(\d+)", self.proc.stdout_text())
            return bool(m)

        wait_until(ready, START_TIMEOUT, self.proc, "the origin to listen")
        self.port = int(m[0])
        self.url = "http://127.0.0.1:%d" % self.port

    def stats(self, tag):
        """Requests seen with `tag` in the target, and the distinct client
        connections they arrived on (asked directly, not through a proxy)."""
        import requests
        r = requests.get("%s/_stats" % self.url, params={"tag": tag}, timeout=5,
                         proxies={"http": None, "https": None})
        r.raise_for_status()
        return r.json()

    def stop(self):
        self.proc.stop()


# --------------------------------------------------------------------------
# nginx


NGINX_STATUSES = (200, 201, 204, 301, 302, 400, 401, 403, 404, 407, 429, 500, 502, 503, 504)

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
    log_format lab '$remote_addr:$remote_port "$request" $status $body_bytes_sent '
                   'exit="$http_x_lab_exit" via="$http_via" xff="$http_x_forwarded_for" conn=$connection';
    access_log {d}/access.log lab;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    default_type text/plain;
    sendfile on;
    keepalive_requests 10000;
    keepalive_timeout 30s;
    server_tokens off;
    server {{
        listen 127.0.0.1:{http_port};
        listen 127.0.0.1:{https_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {d}/www;
        client_max_body_size 200m;
        location = / {{ return 200 "hello from nginx\\n"; }}
        location = /1k {{ }}
        location = /big {{ }}
        location = /chunked {{ ssi on; ssi_types text/plain; chunked_transfer_encoding on; }}
        location = /echo {{
            return 200 "method=$request_method uri=$request_uri host=$host scheme=$scheme via=$http_via xff=$http_x_forwarded_for exit=$http_x_lab_exit\\n";
        }}
        location /post {{
            proxy_pass http://127.0.0.1:{origin_port}/echo;
            proxy_http_version 1.1;
            proxy_request_buffering off;
        }}
{status_locations}
        location / {{ return 200 "nginx $request_uri\\n"; }}
    }}
}}
"""


class Nginx:
    """nginx with an HTTP and an HTTPS server on one config. Locations:
    / (small text), /1k, /big (100 MiB of zeros, sparse), /chunked (SSI, sent
    chunked), /echo (request line and proxy headers as text), /post (bodies
    proxied to the origin's /echo), /status/NNN, anything else 200."""

    def __init__(self, directory, certs, origin_port):
        self.dir = Path(directory)
        www = self.dir / "www"
        www.mkdir(parents=True, exist_ok=True)
        (self.dir / "tmp").mkdir(exist_ok=True)
        (www / "1k").write_bytes(b"x" * 1023 + b"\n")
        with open(www / "big", "wb") as f:
            f.truncate(BIG_SIZE)  # sparse: no disk used
        self.chunked_body = ("chunk line %d\n" * 200) % tuple(range(200))
        (www / "chunked").write_text(self.chunked_body[:len(self.chunked_body) // 2]
                                     + '<!--# echo var="ssi_sep" default="" -->'
                                     + self.chunked_body[len(self.chunked_body) // 2:])
        statuses = "\n".join('        location = /status/%d { return %d "status %d\\n"; }' % (s, s, s)
                             for s in NGINX_STATUSES)
        last = None
        for _ in range(3):  # a port picked free may be taken before nginx binds it
            self.http_port, self.https_port = free_port(), free_port()
            conf = self.dir / "nginx.conf"
            conf.write_text(NGINX_CONF.format(d=self.dir, http_port=self.http_port, https_port=self.https_port,
                                              cert=certs.cert, key=certs.key, origin_port=origin_port,
                                              status_locations=statuses))
            self.proc = Proc("nginx", [NGINX, "-p", self.dir, "-c", conf, "-e", self.dir / "error.log"], self.dir)
            try:
                wait_until(lambda: port_open(self.http_port) and port_open(self.https_port), START_TIMEOUT,
                           self.proc, "nginx to listen", [self.dir / "error.log"])
                break
            except PeerError as e:
                last = e
                self.proc.stop()
        else:
            raise last
        self.access_log = self.dir / "access.log"
        self.url = "http://127.0.0.1:%d" % self.http_port
        self.https_url = "https://127.0.0.1:%d" % self.https_port

    def count(self, needle):
        try:
            return sum(1 for line in self.access_log.read_text("utf-8", "replace").splitlines() if needle in line)
        except OSError:
            return 0

    def wait_count(self, needle, n, timeout=5.0):
        """The access-log count for needle once it reaches n (nginx logs
        after the response is sent), or the count when the time is up."""
        deadline = time.monotonic() + timeout
        while True:
            c = self.count(needle)
            if c >= n or time.monotonic() > deadline:
                return c
            time.sleep(0.05)

    def stop(self):
        self.proc.stop()


# --------------------------------------------------------------------------
# Upstream proxies


class UpstreamProxy:
    """Common face of squid and tinyproxy: .port, .users, .label,
    .pool_line(user), .count(needle) over its own access log."""
    label = ""
    users = {}
    port = 0

    def pool_line(self, user=None, form="url"):
        """The pool-file line for this proxy with the given user's
        credentials (percent-encoded in URL forms)."""
        from urllib.parse import quote
        user = user or next(iter(self.users))
        pw = self.users[user]
        if form == "url":
            return "http://%s:%s@127.0.0.1:%d #%s" % (quote(user, safe=""), quote(pw, safe=""), self.port, self.label)
        if form == "bare":
            return "%s:%s@127.0.0.1:%d #%s" % (quote(user, safe=""), quote(pw, safe=""), self.port, self.label)
        if form == "colon":
            return "127.0.0.1:%d:%s:%s #%s" % (self.port, user, pw, self.label)
        raise ValueError(form)

    def proxy_url(self, user=None):
        from urllib.parse import quote
        user = user or next(iter(self.users))
        return "http://%s:%s@127.0.0.1:%d" % (quote(user, safe=""), quote(self.users[user], safe=""), self.port)

    def request_lines(self):
        raise NotImplementedError

    def count(self, needle):
        return sum(1 for line in self.request_lines() if needle in line)

    def wait_line(self, pred, timeout=5.0):
        """True once a logged request line satisfies pred (squid logs a
        request when it ends, a CONNECT tunnel when it closes)."""
        deadline = time.monotonic() + timeout
        while True:
            if any(pred(line) for line in self.request_lines()):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


SQUID_CONF = """\
http_port 127.0.0.1:{port}
pid_filename {d}/squid.pid
cache_log {d}/cache.log
logformat lab %ts.%03tu %>a:%>p %Ss/%03>Hs %<st %rm %ru %un %<a:%<p
access_log stdio:{d}/access.log lab
strip_query_terms off
buffered_logs off
cache_store_log none
coredump_dir {d}
cache deny all
cache_mem 8 MB
pinger_enable off
dns_nameservers {dns}
# nothing answers DNS on 127.0.0.1: fail lookups fast instead of after 30 s
dns_timeout 2 seconds
dns_retransmit_interval 1 seconds
visible_hostname {label}.rotor.test
shutdown_lifetime 0 seconds
netdb_filename none
icp_port 0
htcp_port 0
cache_effective_user proxy
cache_effective_group proxy
auth_param basic program {ncsa} {d}/passwd
auth_param basic children 2 startup=1 idle=1
auth_param basic realm {label}
auth_param basic credentialsttl 1 minute
acl authed proxy_auth REQUIRED
http_access allow authed
http_access deny all
request_header_add X-Lab-Exit {label}
"""


# Where the test squids resolve names: NxDns's address once it runs; a
# loopback address where nothing answers otherwise.
DNS_ADDR = "127.0.0.1"


class Squid(UpstreamProxy):
    """squid 5 in the foreground (-N) with basic_ncsa_auth. Started as root,
    it drops to the `proxy` user (cache_effective_user), so its directory is
    chowned to proxy. No cache, no pinger, DNS only on loopback, CONNECT to
    every port (no SSL_ports rule). Each instance has its own service name
    (-n) so the shared-memory segments in /dev/shm do not collide."""

    def __init__(self, directory, label, users):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.label = label
        self.users = dict(users)
        self.service = "rotoritest%d%s" % (os.getpid(), re.sub(r"[^A-Za-z0-9]", "", label))
        lines = []
        for user, pw in self.users.items():
            hashed = run([OPENSSL, "passwd", "-apr1", "-stdin"], input=pw.encode()).stdout.decode().strip()
            lines.append("%s:%s\n" % (user, hashed))
        (self.dir / "passwd").write_text("".join(lines))
        self._chown()
        last = None
        for _ in range(3):
            self.port = free_port()
            conf = self.dir / "squid.conf"
            conf.write_text(SQUID_CONF.format(port=self.port, d=self.dir, label=label, ncsa=SQUID_NCSA, dns=DNS_ADDR))
            (self.dir / "cache.log").write_text("")
            self._chown()
            self.proc = Proc("squid", [SQUID, "-N", "-f", conf, "-n", self.service], self.dir)
            try:
                wait_until(lambda: file_contains(self.dir / "cache.log", "Accepting HTTP Socket connections"),
                           START_TIMEOUT, self.proc, "squid %s to listen" % label, [self.dir / "cache.log"])
                break
            except PeerError as e:
                last = e
                self.stop()
        else:
            raise last
        self.access_log = self.dir / "access.log"

    def _chown(self):
        if os.geteuid() != 0:
            return
        import pwd
        pw = pwd.getpwnam("proxy")
        for p in [self.dir, *self.dir.iterdir()]:
            os.chown(p, pw.pw_uid, pw.pw_gid)

    def request_lines(self):
        try:
            return self.access_log.read_text("utf-8", "replace").splitlines()
        except OSError:
            return []

    def client_ports(self, needle):
        """Distinct client (rotor-side) ports of requests matching needle."""
        ports = set()
        for line in self.request_lines():
            if needle in line:
                f = line.split()
                ports.add(f[1].rsplit(":", 1)[1])
        return ports

    def stop(self):
        self.proc.stop()
        # A squid killed before it cleaned up leaves its segments behind.
        for p in Path("/dev/shm").glob(self.service + "-*"):
            try:
                p.unlink()
            except OSError:
                pass


TINYPROXY_CONF = """\
Port {port}
Listen 127.0.0.1
Timeout 30
LogFile "{d}/tinyproxy.log"
LogLevel Info
MaxClients 200
Allow 127.0.0.1
BasicAuth {user} {password}
ConnectPort 443
ConnectPort {connect_port}
DisableViaHeader Yes
AddHeader "X-Lab-Exit" "{label}"
"""


class Tinyproxy(UpstreamProxy):
    """tinyproxy 1.11 in the foreground (-d) with BasicAuth, no Via header.
    Quirk: missing credentials get 407, but wrong credentials get
    401 + WWW-Authenticate."""

    def __init__(self, directory, label, user, password, connect_port):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.label = label
        self.users = {user: password}
        self.log = self.dir / "tinyproxy.log"
        last = None
        for _ in range(3):
            self.port = free_port()
            conf = self.dir / "tinyproxy.conf"
            conf.write_text(TINYPROXY_CONF.format(port=self.port, d=self.dir, user=user, password=password,
                                                  connect_port=connect_port, label=label))
            self.log.write_text("")
            self.proc = Proc("tinyproxy", [TINYPROXY, "-d", "-c", conf], self.dir)
            try:
                wait_until(lambda: file_contains(self.log, "Accepting connections"), START_TIMEOUT, self.proc,
                           "tinyproxy %s to listen" % label, [self.log])
                wait_until(lambda: port_open(self.port), START_TIMEOUT, self.proc, "tinyproxy port", [self.log])
                break
            except PeerError as e:
                last = e
                self.proc.stop()
        else:
            raise last

    def request_lines(self):
        try:
            text = self.log.read_text("utf-8", "replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if "]: Request (file descriptor" in line]

    def stop(self):
        self.proc.stop()


def wait_counts(proxies, needle, total, timeout=5.0):
    """Per-label request counts for needle over the given proxies, polled
    until they sum to `total` (access logs are written after the response)
    or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        counts = {p.label: p.count(needle) for p in proxies}
        if sum(counts.values()) >= total or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)


# --------------------------------------------------------------------------
# rotor


class RotorError(RuntimeError):
    pass


# What AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer print
# when they find something (a sanitized rotor is built with
# -fno-sanitize-recover, so a report also ends the process).
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer",
                     "WARNING: AddressSanitizer", "ThreadSanitizer")


def sanitizer_report(text):
    """The sanitizer report in a process's stderr (from its first marker,
    at most 4000 characters), or None when there is none."""
    at = [text.find(m) for m in SANITIZER_MARKERS if m in text]
    if not at:
        return None
    start = text.rfind("\n", 0, min(at)) + 1
    return text[start:start + 4000]


def drain_seconds(argv):
    """The --drain-timeout given in argv (seconds), or rotor's default."""
    argv = [str(a) for a in argv]
    for i, a in enumerate(argv):
        if a == "--drain-timeout" and i + 1 < len(argv):
            return int(argv[i + 1]) / 1000.0
        if a.startswith("--drain-timeout="):
            return int(a.split("=", 1)[1]) / 1000.0
    return 10.0


class Rotor:
    """`rotor serve` on a free loopback port with a pool file and a JSON-lines
    log in its own directory."""

    def __init__(self, binary, directory, pool_text, rotation=None, auth=None, allow_open=False,
                 extra_args=(), host="127.0.0.1", wait=True, prefix=(), log=True):
        self.binary = str(binary)
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pool_path = self.dir / "pool.txt"
        self.log_path = self.dir / "rotor.log.jsonl"
        self.pool_path.write_text(pool_text)
        self.host = host
        self.auth = auth
        self.port = free_port()
        argv = [*prefix, self.binary, "serve", "--listen", "%s:%d" % (host, self.port), "--pool", self.pool_path]
        if log:
            argv += ["--log", self.log_path]
        if rotation:
            argv += ["--rotation", rotation]
        if auth:
            argv += ["--auth", auth]
        if allow_open:
            argv.append("--allow-open")
        argv += list(extra_args)
        # SIGTERM lets in-flight requests finish: wait for the drain before
        # concluding the process hangs.
        self.stop_timeout = drain_seconds(argv) + STOP_TIMEOUT
        self.exit_status = None   # set by the first stop()
        self.clean_exit_expected = True  # a test that kills rotor on purpose clears this
        self.proc = Proc("rotor", argv, self.dir)
        self.pid = self.proc.pid
        self.stderr_path = self.proc.stderr_path
        self.proxy_url = "http://127.0.0.1:%d" % self.port
        if auth:
            self.auth_proxy_url = "http://%s@127.0.0.1:%d" % (auth, self.port)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=START_TIMEOUT):
        banner = "listening on %s:%d" % (self.host, self.port)
        t0 = time.monotonic()

        # The banner is the readiness signal; polling the port (a connection
        # without a request) is only the fallback for a silent start.
        def ready():
            return banner in self.proc.stderr_text() or (time.monotonic() - t0 > 2 and port_open(self.port))

        try:
            wait_until(ready, timeout, self.proc, "rotor to print '%s'" % banner, [self.log_path])
        except PeerError as e:
            raise RotorError(str(e)) from None

    @property
    def proxies(self):
        """For requests: route http and https through this gateway."""
        url = self.auth_proxy_url if self.auth else self.proxy_url
        return {"http": url, "https": url}

    def stderr_text(self):
        return self.proc.stderr_text()

    def log_text(self):
        try:
            return self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def log_records(self):
        """The log's complete lines parsed as JSON; a line that is not JSON
        raises (the log format is part of the contract)."""
        out = []
        for line in self.log_text().splitlines(keepends=True):
            if not line.endswith("\n") or not line.strip():
                continue  # a record still being written
            try:
                out.append(json.loads(line))
            except ValueError as e:
                raise AssertionError("rotor log line is not JSON (%s): %r" % (e, line)) from None
        return out

    def wait_records(self, pred, n, timeout=5.0):
        """At least n log records satisfying pred, polled (the log writer is
        asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            recs = [r for r in self.log_records() if pred(r)]
            if len(recs) >= n or time.monotonic() > deadline:
                return recs
            time.sleep(0.05)

    def write_pool(self, text):
        """Replace the pool file atomically (as an editor or deploy would)."""
        tmp = self.pool_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.pool_path)

    def sighup(self):
        self.proc.signal(signal.SIGHUP)

    def alive(self):
        return self.proc.alive()

    def rss_kib(self):
        """(VmRSS, VmHWM) in KiB from /proc."""
        vals = {}
        for line in Path("/proc/%d/status" % self.pid).read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                vals[k] = int(v.split()[0])
        return vals.get("VmRSS", 0), vals.get("VmHWM", 0)

    def stop(self):
        """SIGTERM (then SIGKILL after the drain time and a margin); returns
        the exit status. Later calls return the first call's status."""
        if self.exit_status is None:
            self.exit_status = self.proc.stop(self.stop_timeout)
        return self.exit_status

    def problems(self):
        """After stop(): what is wrong with how rotor ended, as strings: a
        sanitizer report in its stderr, or an exit status other than 0."""
        out = []
        rep = sanitizer_report(self.stderr_text())
        if rep:
            out.append("sanitizer report in rotor's stderr (%s):\n%s" % (self.stderr_path, rep))
        if self.clean_exit_expected and self.exit_status != 0:
            out.append("rotor exited with status %r after SIGTERM (expected 0); stderr tail:\n%s"
                       % (self.exit_status, tail(self.stderr_path, 3000)))
        return out

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def describe(self):
        return self.proc.describe([self.log_path, self.pool_path])


def check_rotor_binary(binary):
    """None if `binary serve --help` works, else a message saying what is
    wrong and how to get a binary."""
    how = ("build it with `make` (or `cmake --build build`) and run the suite with "
           "`make integration`, or set ROTOR_BIN to a rotor binary")
    if not binary or not os.path.isfile(binary):
        return "rotor binary not found at ROTOR_BIN=%r: %s" % (binary, how)
    if not os.access(binary, os.X_OK):
        return "ROTOR_BIN=%r is not executable" % binary
    try:
        p = subprocess.run([binary, "serve", "--help"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=5)
    except subprocess.TimeoutExpired:
        return "`%s serve --help` did not finish within 5 s" % binary
    if p.returncode != 0:
        return ("`%s serve --help` failed (exit %d); the gateway is not built yet or broken:\n%s%s"
                % (binary, p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")))
    return None


def run_rotor_expect_exit(binary, argv, directory, timeout=5.0):
    """Run `rotor serve ...` that must refuse to start: returns (exit status,
    stderr). A process still running after `timeout` is killed and reported
    as exit status None."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    proc = Proc("rotor-refused", [binary, *argv], d)
    try:
        proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.stop()
        return None, proc.stderr_text()
    proc.stop()
    err = proc.stderr_text()
    rep = sanitizer_report(err)
    if rep:
        raise RotorError("sanitizer report from `rotor %s`:\n%s" % (" ".join(map(str, argv)), rep))
    return proc.popen.returncode, err


def _cmdline(pid):
    try:
        return Path("/proc/%d/cmdline" % pid).read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return None


def reap_stale(run_dir):
    """Stop processes an earlier run started and left behind (its test
    process was killed outright: squid drops privileges, which clears the
    parent-death signal). Only pids that run recorded, and only while their
    command line still names that run's directory."""
    pids_file = Path(run_dir) / "pids"
    try:
        pids = [int(x) for x in pids_file.read_text().split()]
    except (OSError, ValueError):
        return
    marker = str(run_dir)
    left = []
    for pid in pids:
        cmd = _cmdline(pid)
        if cmd and marker in cmd:
            try:
                os.kill(pid, signal.SIGTERM)
                left.append(pid)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + STOP_TIMEOUT
    while left and time.monotonic() < deadline:
        left = [p for p in left if (_cmdline(p) or "").find(marker) >= 0]
        time.sleep(0.05)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # squid's shared-memory segments of that run (named after its pid).
    m = re.search(r"-(\d+)$", Path(run_dir).name)
    if m:
        for p in Path("/dev/shm").glob("rotoritest%s*" % m.group(1)):
            try:
                p.unlink()
            except OSError:
                pass


def new_run_dir():
    """tests/integration/.out/run-<time>-<pid>; processes left by earlier
    runs are stopped, and older runs beyond the last few are removed."""
    global _run_dir
    root = Path(os.environ.get("ROTOR_ITEST_OUT", HERE / ".out"))
    root.mkdir(parents=True, exist_ok=True)
    old = sorted(p for p in root.glob("run-*") if p.is_dir())
    for p in old:
        reap_stale(p)
    for p in old[:-3]:
        shutil.rmtree(p, ignore_errors=True)
    d = root / ("run-%s-%d" % (time.strftime("%Y%m%d-%H%M%S"), os.getpid()))
    d.mkdir()
    # squid drops to the proxy user and must reach its directory.
    for p in [root, d]:
        os.chmod(p, 0o755)
    _run_dir = d
    return d


def curl(*args, timeout=10):
    """Run curl with bounded time, ignoring proxy environment variables;
    returns CompletedProcess (bytes)."""
    argv = ["curl", "-sS", "--noproxy", "", "--max-time", str(timeout), *[str(a) for a in args]]
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout + 5)


class Response:
    def __init__(self, status, headers, body, raw):
        self.status = status      # int, or None if no status line arrived
        self.headers = headers    # [(lowercase name, value)] in order
        self.body = body
        self.raw = raw

    def header(self, name):
        return header(self.headers, name)

    def __repr__(self):
        return "Response(%r, %r, %r)" % (self.status, self.headers, self.body[:200])


class RawConn:
    """A plain TCP client for byte-exact requests: send anything, read one
    response at a time (Content-Length, chunked or close-delimited), and
    tell whether the server closed the connection."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _until(self, pred, deadline):
        while not pred():
            if not self._fill(deadline):
                return pred()
        return True

    def read_response(self, head_request=False, timeout=None):
        """One response; status None if the head did not arrive in time."""
        deadline = time.monotonic() + (timeout or self.timeout)
        if not self._until(lambda: b"\r\n\r\n" in self.buf, deadline):
            raw, self.buf = self.buf, b""
            return Response(None, [], b"", raw)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        status = int(m.group(1)) if m else None
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip().lower(), v.strip()))
        body = b""
        te = (header(headers, "transfer-encoding") or "").lower()
        cl = header(headers, "content-length")
        if head_request or status in (204, 304) or (status is not None and status < 200):
            pass
        elif "chunked" in te:
            while True:
                if not self._until(lambda: b"\r\n" in self.buf, deadline):
                    break
                line, _, rest = self.buf.partition(b"\r\n")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if not self._until(lambda: len(self.buf) >= len(line) + 2 + size + 2, deadline):
                    break
                body += rest[:size]
                self.buf = self.buf[len(line) + 2 + size + 2:]
                if size == 0:
                    # Trailers are not expected; the last CRLF was consumed.
                    break
        elif cl is not None:
            n = int(cl)
            self._until(lambda: len(self.buf) >= n, deadline)
            body, self.buf = self.buf[:n], self.buf[n:]
        else:
            self._until(lambda: False, deadline)  # until close
            body, self.buf = self.buf, b""
        return Response(status, headers, body, head + b"\r\n\r\n" + body)

    def closed_by_peer(self, timeout=2.0):
        """True if the server closes the connection within timeout (any
        further bytes it sends are kept in self.buf)."""
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._fill(deadline)
        return self.eof


def raw_exchange(port, data, timeout=5.0):
    """Send raw bytes on a fresh connection and read one response."""
    with RawConn(port, timeout) as c:
        c.send(data)
        return c.read_response()


def header(headers, name):
    name = name.lower()
    for k, v in headers:
        if k == name:
            return v
    return None


if __name__ == "__main__":
    print("peers.py is a helper module for the pytest suite", file=sys.stderr)
    sys.exit(2)


class NxDns:
    """A DNS server on port 53 of a loopback address of its own (UDP) that
    answers NXDOMAIN to every query; the test squids resolve through it
    (dns_nameservers, set from DNS_ADDR), so no lookup ever leaves the
    machine and lookups fail at once. Each test session picks a random
    127.53.x.y, so parallel runs on one machine do not collide. A thread of
    the test process; .ok is False when no address could be bound."""

    def __init__(self):
        import random
        import socket as _s
        global DNS_ADDR
        self.ok = False
        for _ in range(20):
            addr = "127.53.%d.%d" % (random.randint(0, 255), random.randint(1, 254))
            self.sock = _s.socket(_s.AF_INET, _s.SOCK_DGRAM)
            try:
                self.sock.bind((addr, 53))
                DNS_ADDR = addr
                break
            except OSError:
                self.sock.close()
        else:
            return
        self.sock.settimeout(0.2)
        self.ok = True
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                q, addr = self.sock.recvfrom(512)
            except OSError:
                continue
            if len(q) < 12:
                continue
            # Same id and one question (QNAME up to its root label, then
            # QTYPE and QCLASS; any EDNS record of the query is dropped);
            # QR=1, RD copied, RA=1, RCODE=3 (NXDOMAIN); no answers.
            end = 12
            while end < len(q) and q[end]:
                end += 1 + q[end]
            end += 5
            if end > len(q):
                continue
            flags = 0x8000 | (q[2] & 0x01) << 8 | 0x0080 | 3
            reply = q[:2] + bytes([flags >> 8, flags & 0xFF]) + b"\0\1\0\0\0\0\0\0" + q[12:end]
            try:
                self.sock.sendto(reply, addr)
            except OSError:
                pass

    def stop(self):
        if self.ok:
            self.running = False
            self.thread.join(1)
            self.sock.close()


def tag(prefix):
    """A unique marker for URLs, so a test counts only its own requests in
    a peer's access log."""
    import uuid
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def session_for(gw):
    """A requests session through the gateway gw, ignoring the
    environment's proxy settings."""
    import requests
    s = requests.Session()
    s.trust_env = False
    s.proxies = gw.proxies
    return s
