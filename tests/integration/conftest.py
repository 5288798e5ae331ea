"""Fixtures for rotor's integration tests: real peers on 127.0.0.1 free ports,
started once per session, and a factory for `rotor serve` processes started
per test. Every process is stopped at teardown, also when tests fail or the
run is interrupted."""
import atexit
import os
import signal
import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402

atexit.register(peers.stop_all)


def _terminated(signum, frame):
    # Turn SIGTERM (e.g. from `timeout`) into an interrupt so fixture
    # finalizers and the atexit hook stop every peer.
    raise KeyboardInterrupt("SIGTERM")


signal.signal(signal.SIGTERM, _terminated)

# Clients in the tests name their proxy explicitly; a proxy or no-proxy
# setting inherited from the environment must not reroute them.
for _var in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"):
    os.environ.pop(_var, None)
    os.environ.pop(_var.upper(), None)

# Credentials of the upstream proxies. WEIRD_PASSWORD holds every character
# that must be percent-encoded in a pool URL.
SQ1_USERS = {"alice": "al1ce-Secret-77", "weird": "p@ss:w#rd"}
SQ2_USERS = {"bob": "b0b-Secret-88"}
TP1_USER, TP1_PASSWORD = "carol", "car0l-Secret-99"
WEIRD_USER, WEIRD_PASSWORD = "weird", SQ1_USERS["weird"]


@pytest.fixture(scope="session")
def run_dir():
    return peers.new_run_dir()


@pytest.fixture(scope="session")
def lab(run_dir):
    """All peers of the session: certs, origin, nginx, squid sq1 and sq2,
    tinyproxy tp1. Stopped together (in parallel) at session end."""
    ns = types.SimpleNamespace()
    ns.dns = peers.NxDns()
    try:
        ns.certs = peers.Certs(run_dir / "certs")
        ns.origin = peers.Origin(run_dir / "origin")
        ns.nginx = peers.Nginx(run_dir / "nginx", ns.certs, ns.origin.port)
        ns.sq1 = peers.Squid(run_dir / "sq1", "sq1", SQ1_USERS)
        ns.sq2 = peers.Squid(run_dir / "sq2", "sq2", SQ2_USERS)
        ns.tp1 = peers.Tinyproxy(run_dir / "tp1", "tp1", TP1_USER, TP1_PASSWORD, ns.nginx.https_port)
        ns.upstreams = [ns.sq1, ns.sq2, ns.tp1]
        yield ns
    finally:
        peers.stop_all()
        ns.dns.stop()


@pytest.fixture(scope="session")
def certs(lab):
    return lab.certs


@pytest.fixture(scope="session")
def origin(lab):
    return lab.origin


@pytest.fixture(scope="session")
def nginx(lab):
    return lab.nginx


@pytest.fixture(scope="session")
def sq1(lab):
    return lab.sq1


@pytest.fixture(scope="session")
def sq2(lab):
    return lab.sq2


@pytest.fixture(scope="session")
def tp1(lab):
    return lab.tp1


@pytest.fixture(scope="session")
def rotor_bin():
    return os.environ.get("ROTOR_BIN") or str(peers.REPO / "build" / "rotor")


_binary_problem = {}


def require_rotor(binary):
    """Fail the calling test (not skip) when the gateway binary is missing
    or `rotor serve --help` does not work."""
    if binary not in _binary_problem:
        _binary_problem[binary] = peers.check_rotor_binary(binary)
    if _binary_problem[binary]:
        pytest.fail(_binary_problem[binary], pytrace=False)


@pytest.fixture
def rotor(request, rotor_bin, run_dir):
    """Factory: rotor(pool_text, rotation=None, auth=None, allow_open=False,
    extra_args=()) starts `rotor serve` and waits until it is ready. Every
    gateway started is stopped at the end of the test; on failure its stderr
    and log are attached to the report."""
    started = []
    request.node._rotors = started
    base = run_dir / "rotor" / request.node.name.replace("/", "_")[:80]

    def start(pool_text, **kw):
        require_rotor(rotor_bin)
        if isinstance(pool_text, (list, tuple)):
            pool_text = "\n".join(pool_text) + "\n"
        d = base / str(len(started))
        try:
            g = peers.Rotor(rotor_bin, d, pool_text, wait=False, **kw)
        except OSError as e:
            pytest.fail("could not start %s: %s" % (rotor_bin, e), pytrace=False)
        started.append(g)
        try:
            g.wait_ready()
        except peers.RotorError as e:
            pytest.fail("rotor did not become ready:\n%s" % e, pytrace=False)
        return g

    yield start
    problems = []
    for i, g in enumerate(started):
        g.stop()
        problems += ["rotor #%d: %s" % (i, p) for p in g.problems()]
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def rotor_refused(request, rotor_bin, run_dir):
    """Factory: rotor_refused(args) runs `rotor ARGS` expecting it to exit by
    itself within 5 s; returns (exit status or None if it kept running,
    stderr)."""
    n = [0]

    def run(args, timeout=5.0):
        require_rotor(rotor_bin)
        n[0] += 1
        d = run_dir / "rotor" / ("%s-refused-%d" % (request.node.name.replace("/", "_")[:80], n[0]))
        return peers.run_rotor_expect_exit(rotor_bin, [str(a) for a in args], d, timeout)

    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("call", "teardown"):
        for i, g in enumerate(getattr(item, "_rotors", [])):
            rep.sections.append(("rotor #%d stderr (%s)" % (i, g.stderr_path), peers.tail(g.stderr_path, 6000)))
            rep.sections.append(("rotor #%d log (%s)" % (i, g.log_path), peers.tail(g.log_path, 4000)))


TEST_WATCHDOG = 60  # seconds: no single test may take longer


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Bound every test's run time, whatever it waits on."""
    def expired(signum, frame):
        pytest.fail("test exceeded the %d s watchdog" % TEST_WATCHDOG)

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_WATCHDOG)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def pytest_sessionfinish(session, exitstatus):
    peers.stop_all()
