"""The OpenAPI document tells the truth: schemathesis fuzzes every route of the running service
(all its checks, a bounded number of examples) and finds no failure and no 5xx but a declared 503.
Without the API key, so that nothing it sends can change the shared library."""

import subprocess
import sys
from pathlib import Path


CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = 15  # per operation: about 700 requests in all


def test_every_route_keeps_its_contract(service, tmp_path):
    st = Path(sys.executable).parent / "schemathesis"  # the project's `test` extra installs it
    done = subprocess.run(
        [st, "--config-file", str(CONFIG), "run", f"{service.url}/openapi.json", "--max-examples", str(EXAMPLES),
         "--workers", "1", "--seed", "1", "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
