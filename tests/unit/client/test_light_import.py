"""The SDK is light: ``import datacoop.client`` loads no server part (plan 3.1).

import-linter does not follow package faces (``__init__.py``), so this runtime check is the real guard.
It runs in a fresh interpreter: the test process has long since imported the server.
"""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_PARTS = ("sqlalchemy", "web3", "fastapi", "starlette", "datacoop.db", "datacoop.chain", "datacoop.app")

_PROBE = """
import json, sys
import datacoop.client
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_sdk_loads_no_server_part() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    found = sorted(
        part for part in SERVER_PARTS if any(name == part or name.startswith(part + ".") for name in loaded)
    )
    assert found == [], f"import datacoop.client loaded {found}"
