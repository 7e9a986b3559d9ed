"""A real systemd to test the unit against: Debian bookworm booted with systemd as PID 1 in systemd-nspawn.

The machines this project runs its tests on are Debian 12 VMs whose PID 1 is not systemd, with hybrid
cgroups, and tests run as root. The box:

- builds a minimal bookworm rootfs with debootstrap once and caches it (LSI_BOX_CACHE, default
  /var/cache/lsi-sidecar-box); each boot runs on a fresh copy, so the cache stays clean;
- boots it in its own host cgroup with a pure cgroup-v2 hierarchy inside, a private network (loopback
  only) and the bpf() system call allowed (without it IPAddressDeny= and DevicePolicy= are ignored);
- runs commands inside through nsenter (no machined or D-Bus needed on the host);
- installs the project the way README says, with wheels built on the host (the box has no network);
- leaves nothing behind: down() powers it off, removes its cgroups and its copy of the rootfs.

Resource limits (MemoryMax=, TasksMax=) cannot be proved here: the host binds those controllers to
cgroup v1, so the box has none. They are checked offline (tests/test_systemd.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("LSI_BOX_CACHE", "/var/cache/lsi-sidecar-box"))
PACKAGES = "systemd,systemd-sysv,dbus,python3,python3-venv,procps"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class BoxError(Exception):
    """The box could not be built, booted or used; the message says what to look at."""


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, text=True, capture_output=True, **kwargs)


def ensure_host_tools() -> None:
    if shutil.which("systemd-nspawn") and shutil.which("debootstrap"):
        return
    _run(["apt-get", "update", "-qq"])
    done = _run(["apt-get", "install", "-y", "-qq", "systemd-container", "debootstrap"],
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if done.returncode:
        raise BoxError(f"cannot install systemd-container and debootstrap: {done.stderr[-2000:]}")


def ensure_rootfs() -> Path:
    """The cached bookworm rootfs, built on first use (about a minute from Debian's package repositories)."""
    rootfs = CACHE / "rootfs"
    if (rootfs / ".built").exists():
        return rootfs
    ensure_host_tools()
    partial = CACHE / "rootfs.partial"
    shutil.rmtree(partial, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    done = _run(["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm", str(partial)])
    if done.returncode:
        raise BoxError(f"debootstrap failed: {(done.stdout + done.stderr)[-3000:]}")
    (partial / "etc" / "machine-id").write_text("")  # a fresh id at every boot
    (partial / ".built").touch()
    shutil.rmtree(rootfs, ignore_errors=True)  # an unfinished earlier build
    partial.rename(rootfs)
    return rootfs


class SystemBox:
    def __init__(self, name: str = "lsi-sidecar-test") -> None:
        self.name = name
        self.work = Path(tempfile.mkdtemp(prefix="lsi-box-", dir=CACHE.parent if CACHE.parent.exists() else None))
        self.root = self.work / "root"
        self.cgroups = [Path("/sys/fs/cgroup/systemd") / name, Path("/sys/fs/cgroup/unified") / name]
        self.nspawn: subprocess.Popen[bytes] | None = None
        self.leader = 0

    # ------------------------------------------------------------------ life cycle

    def boot(self) -> None:
        rootfs = ensure_rootfs()
        copy = _run(["cp", "-a", "--reflink=auto", str(rootfs), str(self.root)])
        if copy.returncode:
            raise BoxError(f"cannot copy the rootfs: {copy.stderr}")
        (self.root / "etc" / "hostname").write_text(self.name + "\n")
        for cgroup in self.cgroups:
            cgroup.mkdir(exist_ok=True)
        console = open(self.work / "console.log", "wb")

        def own_cgroup() -> None:  # nspawn's payload/ and supervisor/ go under it, not the root
            for cgroup in self.cgroups:
                (cgroup / "cgroup.procs").write_text(str(os.getpid()))

        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "-D", str(self.root), "-M", self.name, "--boot", "--register=no", "--keep-unit",
             "--console=read-only", "--private-network", "--system-call-filter=bpf"],
            env={**os.environ, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}, stdin=subprocess.DEVNULL,
            stdout=console, stderr=console, preexec_fn=own_cgroup)
        console.close()
        self.leader = self._wait_for_pid1()
        state = self.run(["timeout", "90", "systemctl", "is-system-running", "--wait"], check=False).stdout.strip()
        if state != "running":
            raise BoxError(f"the box's system is {state!r}: {self.run(['systemctl', '--failed'], check=False).stdout}")

    def _wait_for_pid1(self) -> int:
        assert self.nspawn is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise BoxError(f"systemd-nspawn exited: {(self.work / 'console.log').read_text()[-3000:]}")
            children = Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children")
            pids = children.read_text().split() if children.exists() else []
            if pids and Path(f"/proc/{pids[0]}/comm").read_text().strip() == "systemd":
                leader = int(pids[0])
                while not Path(f"/proc/{leader}/root/run/systemd/private").exists():
                    if time.monotonic() > deadline:
                        raise BoxError("systemd in the box never opened its private socket")
                    time.sleep(0.05)
                return leader
            time.sleep(0.05)
        raise BoxError("no systemd PID 1 appeared in the box within 30 s")

    def down(self) -> None:
        if self.nspawn is not None and self.nspawn.poll() is None:
            self.nspawn.terminate()  # nspawn asks the box's PID 1 for a clean poweroff
            try:
                self.nspawn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait()
        for cgroup in self.cgroups:
            for folder in sorted(cgroup.glob("**/"), key=lambda p: len(p.parts), reverse=True):
                try:
                    folder.rmdir()
                except OSError:
                    pass
        shutil.rmtree(self.work, ignore_errors=True)

    # ------------------------------------------------------------------ use

    def run(self, args: list[str], check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A command in the box, with all of its PID 1's namespaces and a clean environment."""
        done = _run(["nsenter", "-t", str(self.leader), "-a", "env", "-i", f"PATH={PATH}", "LANG=C.UTF-8",
                     "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=", *args], timeout=timeout)
        if check and done.returncode:
            raise BoxError(f"{' '.join(args)} exited {done.returncode}: {done.stdout}{done.stderr}")
        return done

    def path(self, inside: str) -> Path:
        """Where a path of the box is on the host."""
        return self.root / inside.lstrip("/")

    def show(self, unit: str, prop: str) -> str:
        return self.run(["systemctl", "show", "-P", prop, unit]).stdout.strip()

    def journal(self, unit: str, *args: str) -> str:
        return self.run(["journalctl", "-u", unit, "--no-pager", "-o", "cat", *args], check=False).stdout

    # ------------------------------------------------------------------ the project

    def install_project(self) -> None:
        """README's install steps, in order; pip gets the project and its dependencies as host-built wheels."""
        project = self.path("/opt/lsi-sidecar")
        files = _run(["git", "-C", str(ROOT), "ls-files", "-z"]).stdout.split("\0")
        for name in filter(None, files):  # `cp -r . /opt/lsi-sidecar` of a clean checkout
            target = project / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / name).is_file():
                shutil.copy2(ROOT / name, target)
        # Built from the box's copy, so that the build leaves nothing in the checkout.
        built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "-w",
                      str(self.path("/opt/wheels")), str(project)])
        if built.returncode:
            raise BoxError(f"pip wheel failed: {built.stderr[-2000:]}")
        for leftover in ("build", "lsi_sidecar.egg-info"):
            shutil.rmtree(project / leftover, ignore_errors=True)
        steps = [
            ["useradd", "--system", "--home-dir", "/srv/lsi-sidecar", "--shell", "/usr/sbin/nologin", "lsi-sidecar"],
            ["mkdir", "-p", "/srv/lsi-sidecar", "/etc/lsi-sidecar"],
            ["chown", "lsi-sidecar:", "/srv/lsi-sidecar"],
            ["python3", "-m", "venv", "/opt/lsi-sidecar/.venv"],
            ["/opt/lsi-sidecar/.venv/bin/pip", "install", "-q", "--disable-pip-version-check", "--no-index",
             "--find-links", "/opt/wheels", "lsi-sidecar"],  # README: pip install /opt/lsi-sidecar (offline here)
            ["cp", "/opt/lsi-sidecar/config.yaml", "/etc/lsi-sidecar/config.yaml"],
            ["cp", "/opt/lsi-sidecar/systemd/lsi-sidecar.service", "/opt/lsi-sidecar/systemd/lsi-sidecar@.service",
             "/etc/systemd/system/"],
            ["systemctl", "daemon-reload"],
        ]
        for step in steps:
            self.run(step, timeout=300)
