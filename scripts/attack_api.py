"""Schemathesis against the real functions: the local runner on the local AWS stack.

Starts the local runner (API Gateway stand-in, every function, no demo) on a port of its
own, then runs Schemathesis (tests/api/schemathesis.toml: fixed seed, 20 examples per
operation, every phase and check) with the committed openapi.json, once signed in as a
merchant and once as operations. Any failure fails the run.

Run inside the local stack by `./dev test`, with the port the stack's Shopify stand-in
parameter names (the runner serves the stand-in):
    python scripts/local_aws.py run [params] -- python scripts/attack_api.py RUNNER PORT
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CALLERS = {
    "merchant": "Bearer dev.schemathesis-merchant.merchant",
    "operations": "Bearer dev.schemathesis-ops.operations",
}


def wait_for(url: str, runner: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if runner.poll() is not None:
            sys.exit(f"attack_api: the local runner exited with {runner.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"attack_api: {url} did not answer within {seconds:.0f} s")


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit("usage: attack_api.py PATH_TO_LOCAL_RUNNER PORT")
    port = int(sys.argv[2])
    base = f"http://127.0.0.1:{port}"
    schemathesis = Path(sys.executable).parent / "st"
    reports = REPO_ROOT / ".local" / "schemathesis"
    reports.mkdir(parents=True, exist_ok=True)
    runner = subprocess.Popen([sys.argv[1], "--no-demo", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=open(reports / "runner.log", "w"))
    failed = []
    try:
        wait_for(f"{base}/openapi.json", runner)
        env = {**os.environ, "SCHEMATHESIS_HOOKS": str(REPO_ROOT / "tests/api/hooks.py")}
        for caller, token in CALLERS.items():
            print(f"attack_api: Schemathesis as {caller}", flush=True)
            status = subprocess.call([
                str(schemathesis), "--config-file", str(REPO_ROOT / "tests/api/schemathesis.toml"),
                "run", str(REPO_ROOT / "openapi.json"), "--url", base,
                "-H", f"Authorization: {token}",
                "--workers", "1",
                "--report", "junit", "--report-junit-path", str(reports / f"{caller}.xml"),
            ], env=env)
            if status != 0:
                failed.append(caller)
    finally:
        runner.terminate()
        try:
            runner.wait(timeout=10)
        except subprocess.TimeoutExpired:
            runner.kill()
    if runner.returncode not in (0, -15, None) and not failed:
        print(f"attack_api: the runner ended with {runner.returncode}; see {reports / 'runner.log'}")
    if failed:
        print(f"attack_api: Schemathesis failed as {', '.join(failed)}; the runner's log is {reports / 'runner.log'}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
