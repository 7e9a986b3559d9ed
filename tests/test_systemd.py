"""The unit files pass systemd's own checks, and are hardened (systemd-analyze security <= 1.0)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.exits import EXIT_USAGE

from helpers import ROOT

UNITS = sorted((ROOT / "systemd").glob("*.service"))
ANALYZE = shutil.which("systemd-analyze") or "systemd-analyze"  # Debian's systemd package; .ci/run installs it


def installed_copy(unit: Path, tmp_path: Path) -> Path:
    """The unit as installed here: ExecStart pointing at this environment's sidecar."""
    sidecar = Path(sys.executable).with_name("sidecar")
    assert sidecar.exists()
    text = unit.read_text().replace("/opt/lsi-sidecar/.venv/bin/sidecar", str(sidecar))
    copy = tmp_path / unit.name
    copy.write_text(text)
    return copy


def test_there_is_a_service_and_a_per_imprint_template():
    assert [u.name for u in UNITS] == ["lsi-sidecar.service", "lsi-sidecar@.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_analyze_verify_passes(unit, tmp_path):
    name = "lsi-sidecar@xynapse_traces.service" if "@" in unit.name else unit.name
    copy = installed_copy(unit, tmp_path)
    if "@" in unit.name:
        copy = copy.rename(tmp_path / name)
    result = subprocess.run([ANALYZE, "verify", str(copy)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_security_exposure_score_is_at_most_1(unit, tmp_path):
    copy = installed_copy(unit, tmp_path)
    if "@" in unit.name:
        copy = copy.rename(tmp_path / "lsi-sidecar@xynapse_traces.service")
    result = subprocess.run([ANALYZE, "security", "--offline=yes", str(copy)], capture_output=True, text=True)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", result.stdout + result.stderr)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 1.0, result.stdout


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_unit_speaks_the_notify_protocol_and_restarts_on_failure(unit):
    text = unit.read_text()
    for line in ("Type=notify", "Restart=on-failure", "WatchdogSec=30", "ProtectSystem=strict",
                 "NoNewPrivileges=yes", "PrivateTmp=yes", "PrivateNetwork=yes", "User=lsi-sidecar",
                 "ExecReload=/bin/kill -HUP $MAINPID"):
        assert f"\n{line}\n" in text
    assert re.search(r"\nReadWritePaths=/srv/lsi-sidecar", text)
    assert f"\nRestartPreventExitStatus={EXIT_USAGE}\n" in text  # a wrong command line, which no restart mends
    assert "--config /etc/lsi-sidecar/" in text
