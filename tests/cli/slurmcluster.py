# SPDX-License-Identifier: MIT
"""A one-node Slurm cluster for tests, run as this test's own processes in a temporary directory.

    with SlurmCluster(workdir) as c:      # raises Unavailable(reason) when a daemon cannot start
        job = c.sbatch(["--array=0-3", script])
        c.wait(job, timeout=90)

munged gets its own key, socket, pid and log files; slurmctld and slurmd run in the foreground (-D) with
SLURM_CONF pointing at a slurm.conf written here (this host's short name as the only node, process tracking by
/proc, no task plugin, every state, spool, log and pid file under the work directory, free TCP ports). Nothing
outside the work directory is written, and leaving the block stops every daemon (and their jobs) even when the
test failed. Standard library only."""
import os
import shutil
import signal
import socket
import subprocess
import time

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel")


class Unavailable(Exception):
    """The cluster cannot run here; the message says which daemon or tool and why."""


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path, n=1500):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return "(no log)"


class SlurmCluster:
    def __init__(self, work, cpus=4):
        self.dir = os.path.join(work, "slurm")
        self.cpus = cpus
        self.host = socket.gethostname().split(".")[0]
        self.procs = []
        self.env = None

    # --- setup ---

    def preflight(self):
        """Raise Unavailable when the tools are missing or the daemons could not start jobs (not root)."""
        missing = [d for d in DAEMONS if not shutil.which(d) and not os.path.exists("/usr/sbin/" + d)]
        if missing:
            raise Unavailable("not installed: %s (Debian: apt-get install slurm-wlm munge)" % ", ".join(missing))
        if os.geteuid() != 0:
            raise Unavailable("slurmd must run as root to start jobs (this test runs as uid %d)" % os.geteuid())

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _start_munge(self):
        key = self._path("munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        self.socket = self._path("munge.socket")
        cmd = [shutil.which("munged") or "/usr/sbin/munged", "--foreground", "--force", "--key-file", key,
               "--socket", self.socket, "--pid-file", self._path("munged.pid"), "--log-file", self._path("munged.log"),
               "--seed-file", self._path("munged.seed"), "--num-threads", "2"]
        self._spawn("munged", cmd, lambda: os.path.exists(self.socket), self._path("munged.log"))

    def _write_conf(self):
        conf = self._path("slurm.conf")
        p = self._path
        lines = [
            "ClusterName=r2dtest",
            "SlurmctldHost=%s(127.0.0.1)" % self.host,
            "SlurmctldPort=%d" % _free_port(),
            "SlurmdPort=%d" % _free_port(),
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            "AuthInfo=socket=%s" % self.socket,
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SwitchType=switch/none",
            "MpiDefault=none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "SchedulerType=sched/backfill",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "ReturnToService=2",
            "SlurmdParameters=config_overrides",
            "MailProg=/bin/true",
            "PlugStackConfig=%s" % p("plugstack.conf"),
            "StateSaveLocation=%s" % p("state"),
            "SlurmdSpoolDir=%s" % p("spool"),
            "SlurmctldPidFile=%s" % p("slurmctld.pid"),
            "SlurmdPidFile=%s" % p("slurmd.pid"),
            "SlurmctldLogFile=%s" % p("slurmctld.log"),
            "SlurmdLogFile=%s" % p("slurmd.log"),
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "TmpFS=%s" % p("tmp"),
            "SchedulerParameters=sched_interval=1",
            "MessageTimeout=20",
            "KillWait=5",
            "NodeName=%s NodeAddr=127.0.0.1 CPUs=%d State=UNKNOWN" % (self.host, self.cpus),
            "PartitionName=r2d Nodes=%s Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO" % self.host,
        ]
        for d in ("state", "spool", "tmp"):
            os.makedirs(p(d), exist_ok=True)
        open(p("plugstack.conf"), "w").close()
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.env = dict(os.environ, SLURM_CONF=conf)

    def _spawn(self, name, cmd, ready, log, timeout=30):
        out = open(self._path(name + ".out"), "w")
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env or os.environ,
                                start_new_session=True, cwd=self.dir)
        out.close()
        self.procs.append((name, proc))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise Unavailable("%s exited with status %d at start: %s %s" % (
                    name, proc.returncode, _tail(self._path(name + ".out"), 600), _tail(log, 900)))
            if ready():
                return
            time.sleep(0.2)
        raise Unavailable("%s did not become ready in %d s: %s" % (name, timeout, _tail(log)))

    def _node_idle(self):
        p = self.run(["sinfo", "-h", "-N", "-o", "%T"], check=False)
        return p.returncode == 0 and p.stdout.strip().rstrip("*") in ("idle", "mixed")

    def __enter__(self):
        try:
            self.preflight()
            shutil.rmtree(self.dir, ignore_errors=True)
            os.makedirs(self.dir)
            self._start_munge()
            self._write_conf()
            ctld = shutil.which("slurmctld") or "/usr/sbin/slurmctld"
            slurmd = shutil.which("slurmd") or "/usr/sbin/slurmd"
            self._spawn("slurmctld", [ctld, "-D", "-c", "-i"],
                        lambda: self.run(["scontrol", "ping"], check=False).stdout.count("UP") > 0,
                        self._path("slurmctld.log"))
            self._spawn("slurmd", [slurmd, "-D", "-N", self.host], self._node_idle, self._path("slurmd.log"), 45)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _steps(self):
        """Pids of the slurmstepd processes of this cluster (they inherit its SLURM_CONF from slurmd)."""
        mark = ("SLURM_CONF=%s" % self.env["SLURM_CONF"]).encode() if self.env else None
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc") if mark else []):
            try:
                with open("/proc/%s/comm" % pid) as f:
                    if f.read().strip() != "slurmstepd":
                        continue
                with open("/proc/%s/environ" % pid, "rb") as f:
                    if mark in f.read().split(b"\0"):
                        pids.append(int(pid))
            except OSError:
                pass
        return pids

    def _kill_steps(self):
        """Job steps outlive slurmd in sessions of their own: give them a few seconds, then stop them."""
        end = time.monotonic() + 10
        while self._steps() and time.monotonic() < end:
            time.sleep(0.2)
        for pid in self._steps():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # --- use ---

    def run(self, cmd, check=True, timeout=30):
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
        return p

    def sbatch(self, args, env=None):
        """Submit; returns the job id."""
        p = subprocess.run(["sbatch", "--parsable"] + list(args), capture_output=True, text=True,
                           env=dict(self.env, **(env or {})), timeout=30)
        if p.returncode != 0:
            raise RuntimeError("sbatch failed: %s\n%s" % (p.stderr.strip(), self.logs()))
        return p.stdout.strip().split(";")[0]

    def pending(self, job):
        """The job's tasks still queued or running, as (array index, state) pairs."""
        p = self.run(["squeue", "-h", "-r", "-j", job, "-o", "%K %T"], check=False)
        if p.returncode != 0:
            return []
        return [tuple(l.split()) for l in p.stdout.splitlines() if l.strip()]

    def wait(self, job, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.pending(job):
                return True
            time.sleep(0.5)
        return False

    def logs(self):
        return "\n".join("--- %s\n%s" % (n, _tail(self._path(n), 1200))
                         for n in ("slurmctld.log", "slurmd.log", "munged.log"))

    def stop(self):
        """Cancel every job, then stop the daemons (slurmd first, munged last) and wait for them."""
        if self.env and any(p.poll() is None for n, p in self.procs if n == "slurmctld"):
            self.run(["scancel", "--full", "-u", "root"], check=False)
            time.sleep(0.5)
        self._kill_steps()
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.procs = []
