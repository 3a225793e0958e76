#!/usr/bin/env python3
"""`focusnet batch` as a Slurm job array on a live, single-node Slurm started by this test.

Usage: slurm_job_array.py FOCUSNET SOURCE_DIR SHARED_DATA_DIR WORK_DIR

Writes a slurm.conf and a munge key into WORK_DIR, starts munged, slurmctld and slurmd on localhost (ports of their
own), builds a tree of 7 series from the real DICOM samples (new UIDs written with pydicom), and then:
  1. segments the tree without Slurm: the reference;
  2. submits examples/slurm/focusnet-batch.sbatch as a 3-task array, cancels one task (scancel) after it has
     finished a series and while it still has others to do, and checks that the merge reports the series missing;
  3. resubmits with examples/slurm/submit.sh (array + merge step) and checks: every series exactly once across the
     shard summaries of both submissions, nothing redone, the merge step's summary complete, and every label map
     identical to the reference's.
Every daemon it started is stopped by PID, also when a check fails. Exits 77 (skipped) when not root or Slurm,
munge or pydicom is missing.
"""
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SKIPPED = 77
SHARDS = 3


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def program(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


class Cluster:
    """munged, slurmctld and slurmd in the foreground, each in its own session, stopped by PID on exit."""

    def __init__(self, folder):
        self.folder = folder
        self.processes = []
        self.environment = dict(os.environ, SLURM_CONF=str(folder / "slurm.conf"))

    def __enter__(self):
        f = self.folder
        for sub in ("state", "spool", "munge"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(f / "munge", 0o700)
        key = f / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        socket_path = f / "munge" / "munge.socket"
        host = socket.gethostname().split(".")[0]
        cpus = 3
        (f / "slurm.conf").write_text(f"""ClusterName=focusnet-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={socket_path}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
StateSaveLocation={f / 'state'}
SlurmdSpoolDir={f / 'spool'}
SlurmctldPidFile={f / 'slurmctld.pid'}
SlurmdPidFile={f / 'slurmd.pid'}
SlurmctldLogFile={f / 'slurmctld.log'}
SlurmdLogFile={f / 'slurmd.log'}
NodeName=focusnet-node NodeHostname={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=16000 State=UNKNOWN
PartitionName=test Nodes=focusnet-node Default=YES MaxTime=INFINITE State=UP
""")
        try:
            self.start([program("munged"), "--foreground", "--force", f"--socket={socket_path}",
                        f"--key-file={key}", f"--pid-file={f / 'munge' / 'munged.pid'}",
                        f"--log-file={f / 'munge' / 'munged.log'}", f"--seed-file={f / 'munge' / 'munged.seed'}"])
            self.wait_for(socket_path.exists, "munged's socket")
            self.start([program("slurmctld"), "-D", "-c", "-f", str(f / "slurm.conf")])
            self.start([program("slurmd"), "-D", "-N", "focusnet-node", "-f", str(f / "slurm.conf")])
            self.wait_for(lambda: "idle" in self.run(["sinfo", "-h", "-o", "%t"], check=False), "an idle node")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        log(f"Slurm up: munged, slurmctld, slurmd (PIDs {[p.pid for p in self.processes]})")
        return self

    def start(self, command):
        self.processes.append(subprocess.Popen(command, env=self.environment, start_new_session=True,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def wait_for(self, condition, what, seconds=30):
        deadline = time.time() + seconds
        while not condition():
            for p in self.processes:
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args[0]} exited ({p.returncode}) while waiting for {what}; logs in "
                                       f"{self.folder}")
            if time.time() > deadline:
                raise RuntimeError(f"no {what} after {seconds} s; logs in {self.folder}")
            time.sleep(0.2)

    def run(self, command, check=True):
        result = subprocess.run(command, env=self.environment, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, command))}: {result.stderr.strip()}")
        return result.stdout

    def jobs(self):
        return self.run(["squeue", "-h", "-o", "%i %T"], check=False).split("\n")

    def wait_idle(self, seconds=300):
        self.wait_for(lambda: self.run(["squeue", "-h"], check=False).strip() == "", "end of every job", seconds)

    def __exit__(self, *error):
        if self.processes:
            subprocess.run(["scancel", "--full", "--user=root"], env=self.environment, capture_output=True)
        for p in reversed(self.processes):  # slurmd, slurmctld, munged
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        log(f"stopped PIDs {[p.pid for p in self.processes]}")
        self.processes = []


def build_tree(data, tree):
    """Copies of the CT and MR series with new study, series and instance UIDs: 7 series, 98 slices."""
    import pydicom
    sources = [("ct_series_uids_restored", 4), ("mr_series_babymri", 3)]
    for name, copies in sources:
        for copy in range(copies):
            folder = tree / f"{name}-{copy}"
            folder.mkdir(parents=True)
            # Fixed UIDs (2.25 + a number): the same shards every run.
            study, series = f"2.25.{9000 + 10 * copy}{len(name)}", f"2.25.{9001 + 10 * copy}{len(name)}"
            for n, path in enumerate(sorted((data / "dicom_samples" / name).iterdir())):
                dataset = pydicom.dcmread(path)
                dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study, series
                dataset.SOPInstanceUID = f"{series}.{n + 1}"
                dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
                dataset.save_as(folder / f"{n:03d}.dcm")


def shard_rows(folder):
    rows = {}
    for path in sorted(folder.glob("summary-shard-*-of-*.csv")):
        with open(path, newline="") as f:
            rows[path.name] = list(csv.DictReader(f))
    return rows


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    log("ok: " + message)


def main():
    focusnet, source_dir, data, work = (Path(a).resolve() for a in sys.argv[1:5])
    if os.geteuid() != 0:
        print("skipped: the live Slurm test starts slurmctld and slurmd, which needs root (CI runs ctest as root)")
        return SKIPPED
    missing = [p for p in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")
               if not program(p)]
    if missing:
        print(f"skipped: {', '.join(missing)} not found (Debian packages slurm-wlm and munge)")
        return SKIPPED
    try:
        import pydicom  # noqa: F401
    except ImportError:
        print("skipped: pydicom not found (Debian package python3-pydicom)")
        return SKIPPED

    shutil.rmtree(work, ignore_errors=True)
    tree, reference, out, logs = work / "tree", work / "reference", work / "out", work / "logs"
    logs.mkdir(parents=True)
    build_tree(data, tree)
    options = ["--formats", "nrrd", "--threads", "1", "--model",
               str(source_dir / "test_data/models/focusnet-lung.fnm")]
    started = time.time()
    subprocess.run([focusnet, "batch", tree, reference, *options, "-q"], check=True)
    expected = {p.parent.relative_to(reference): p.read_bytes() for p in reference.rglob("label.nrrd")}
    check(len(expected) == 7, f"the reference run segmented the 7 series without Slurm ({time.time() - started:.1f} s)")

    sbatch_script = source_dir / "examples/slurm/focusnet-batch.sbatch"
    with Cluster(work / "slurm") as cluster:
        cluster.environment["FOCUSNET"] = str(focusnet)
        started = time.time()
        job = cluster.run(["sbatch", "--parsable", f"--array=0-{SHARDS - 1}", "--cpus-per-task=1",
                           f"--output={logs}/first-%a.log", sbatch_script, tree, out, *options]).strip()
        log(f"submitted array {job} ({SHARDS} tasks)")
        # Cancel the first task seen to have finished one series and to have more to do.
        cancelled = None
        deadline = time.time() + 120
        while cancelled is None and time.time() < deadline and any(l.startswith(job) for l in cluster.jobs()):
            for task in range(SHARDS):
                text = (logs / f"first-{task}.log").read_text() if (logs / f"first-{task}.log").exists() else ""
                lines = text.split("\n")[:-1]  # whole lines only: the task may be in the middle of writing one
                progress = [l.split()[1].rstrip(":") for l in lines if l.startswith("series ")]
                if progress and progress[-1].split("/")[0] == "1" and int(progress[-1].split("/")[1]) >= 2 and \
                        f"{job}_{task} RUNNING" in cluster.jobs():
                    cluster.run(["scancel", f"{job}_{task}"])
                    cancelled = task
                    log(f"scancel {job}_{task} after its first series ({progress[-1]} done)")
                    break
            time.sleep(0.05)
        check(cancelled is not None, "a task was cancelled mid-run")
        cluster.wait_idle()
        log(f"first submission ended after {time.time() - started:.1f} s")
        first = shard_rows(out)
        check(f"summary-shard-{cancelled}-of-{SHARDS}.csv" not in first and len(first) == SHARDS - 1,
              "the cancelled task wrote no shard summary, the others did")
        merge = subprocess.run([focusnet, "batch", tree, out, "--merge"], capture_output=True, text=True)
        check(merge.returncode != 0 and "missing" in merge.stderr and
              f"summary-shard-{cancelled}-of-{SHARDS}.csv" in merge.stderr,
              "the merge reports the cancelled task's series missing and fails: " + merge.stderr.strip().splitlines()[-1])
        done_first = {r["series_uid"]: r for rows in first.values() for r in rows if r["status"] == "ok"}
        first_outputs = {p: p.stat().st_mtime_ns for p in out.rglob("label.nrrd")}
        check(len(done_first) < len(first_outputs) < 7,
              f"the cancelled task finished some of its series ({len(first_outputs) - len(done_first)}) but not all")

        started = time.time()
        submitted = subprocess.run([source_dir / "examples/slurm/submit.sh", str(SHARDS), tree, out, *options],
                                   env=dict(cluster.environment, SBATCH_OPTIONS=f"--cpus-per-task=1 --output={logs}/second-%a.log"),
                                   cwd=logs, capture_output=True, text=True, check=True).stdout.split()
        merge_job = submitted[3]
        log(f"resubmitted: array {submitted[1]}, merge step {merge_job}")
        cluster.wait_idle()
        log(f"second submission ended after {time.time() - started:.1f} s")

    second = shard_rows(out)
    check(len(second) == SHARDS, "every task of the second submission wrote its shard summary")
    every = [r["series_uid"] for rows in second.values() for r in rows]
    check(sorted(every) == sorted(set(every)) and len(every) == 7, "every series is in exactly one shard summary")
    done_second = {r["series_uid"] for rows in second.values() for r in rows if r["status"] == "ok"}
    skipped = {r["series_uid"] for rows in second.values() for r in rows
               if r["status"] == "skipped" and r["reason"].startswith("done in an earlier run")}
    before = {p.parent.name for p in first_outputs}  # series folders are named by their SeriesInstanceUID
    check(set(done_first) <= before and not (done_second & before) and len(before | done_second) == 7,
          f"each series was segmented exactly once: {len(before)} in the first submission ({len(done_first)} in "
          f"its shard summaries, {len(before) - len(done_first)} by the cancelled task), {len(done_second)} in the "
          f"second")
    check(skipped == before, "the second submission skipped every series finished before, the cancelled task's too")
    check(all(p.stat().st_mtime_ns == t for p, t in first_outputs.items()), "no finished label map was written again")
    merge_log = (logs / f"focusnet-merge-{merge_job}.log").read_text()
    check("7 series: 7 ok, 0 partial, 0 skipped, 0 failed, 0 missing" in merge_log,
          "the merge step ran after the array and found nothing missing")
    with open(out / "summary.csv", newline="") as f:
        merged = list(csv.DictReader(f))
    check(len(merged) == 7 and all(r["status"] == "ok" for r in merged),
          "the merge step's summary.csv lists all 7 series as ok")
    produced = {p.parent.relative_to(out): p.read_bytes() for p in out.rglob("label.nrrd")}
    check(produced == expected, "every label map is byte for byte the reference run's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
