"""What `sidecar --once` loads: only what the run needs (the tools, the service and their libraries wait for
their commands)."""

import json
import subprocess
import sys

from helpers import ROOT

# Modules the --once run must not load: the other commands' tools and libraries, the service, test helpers.
NOT_FOR_ONCE = ("openpyxl", "xlsxwriter", "pypdf", "defusedxml", "watchdog", "hypothesis",
                "sidecar.tools", "sidecar.service", "sidecar.store.workbook", "sidecar.store.scratch")

CHILD = """
import json, sys
from sidecar import cli
code = cli.main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_once_on_an_empty_folder_loads_no_tool_service_or_their_libraries(tmp_path):
    folder = tmp_path / "harbor_light_build" / "processed_json"
    folder.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-c", CHILD, "--once", "--config", str(ROOT / "config.yaml"),
                           "--watch", str(folder), "--checkpoint-dir", str(tmp_path / "data")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 0
    loaded = [m for m in result["modules"] if any(m == n or m.startswith(n + ".") for n in NOT_FOR_ONCE)]
    assert loaded == []
    assert (tmp_path / "data" / "state").is_dir()  # the ledger was opened all the same

