"""Starting and stopping `rotor lab` for tests: free ports (--port-base 0),
readiness through the --state-out JSON file, a fixed seed so faults repeat."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROTOR = os.environ.get("ROTOR_BIN", str(ROOT / "build" / "rotor"))
NO_PROXY_ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def start_lab(tmp_path, *args, scenario_text=None, name="lab"):
    """Start a lab in tmp_path/name; returns its state dict (proxies,
    targets, pool_file, ca_file, ...) plus _proc and _dir."""
    d = tmp_path / name
    d.mkdir()
    state = d / "state.json"
    cmd = [ROTOR, "lab", "--port-base", "0", "--pool-out", str(d / "pool.txt"),
           "--state-out", str(state), "--seed", "7"]
    if scenario_text is not None:
        sc = d / "scenario.txt"
        sc.write_text(scenario_text)
        cmd += ["--scenario", str(sc)]
    cmd += list(args)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=NO_PROXY_ENV)
    deadline = time.time() + 15
    while time.time() < deadline:
        if state.exists() and state.stat().st_size:
            with open(state) as f:
                st = json.load(f)
            st["_proc"] = proc
            st["_dir"] = d
            return st
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"rotor lab exited {proc.returncode}: {err}{out}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("rotor lab did not write its state file")


def stop_lab(st):
    """SIGTERM the lab; returns (exit status, stdout, stderr)."""
    proc = st["_proc"]
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    return proc.returncode, out, err
