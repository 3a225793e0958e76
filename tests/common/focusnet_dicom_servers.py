"""The servers of the DICOM node's tests and benchmark: Debian's Orthanc with a configuration of its own, `focusnet
serve`, and dcmtk's storescu, each on free loopback ports, each stopped by its PID. The focusnet executable, the
model and Orthanc come from FOCUSNET_EXECUTABLE, FOCUSNET_DEFAULT_MODEL and FOCUSNET_ORTHANC (its DICOMweb plugin from
FOCUSNET_ORTHANC_DICOMWEB)."""
import json
import os
import pathlib
import random
import socket
import subprocess
import time
import urllib.request


def free_port():
    """A free loopback port below Linux's ephemeral range (32768 and up), so that no outgoing connection of another
    program takes it while a server the test restarts on it (Orthanc, the node) is down."""
    low, high = 20000, 32767
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ephemeral:
        high = min(high, int(ephemeral.read().split()[0]) - 1)
    for port in random.sample(range(low, high + 1), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port in %d-%d" % (low, high))


def wait_for(what, check, seconds):
    """Polls check() until it returns something true, at most `seconds`; fails naming `what` otherwise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("waited %g s for %s" % (seconds, what))


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Orthanc:
    """An Orthanc of the test's own: DICOM and HTTP on free loopback ports, the node as modality "focusnet"; with
    dicomweb, its DICOMweb plugin (FOCUSNET_ORTHANC_DICOMWEB) at /dicom-web/."""

    def __init__(self, folder, node_port, lua=None, dicomweb=False, **settings):
        self.folder = pathlib.Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dicom_port, self.http_port = free_port(), free_port()
        config = {"Name": "focusnet-test", "DicomAet": "ORTHANC", "DicomPort": self.dicom_port,
                  "HttpPort": self.http_port, "StorageDirectory": str(self.folder / "storage"),
                  "IndexDirectory": str(self.folder / "storage"), "RemoteAccessAllowed": False,
                  "AuthenticationEnabled": False, "Plugins": [], "DicomCheckModalityHost": False,
                  "DicomModalities": {"focusnet": ["FOCUSNET", "127.0.0.1", node_port]}}
        if dicomweb:
            config["Plugins"] = [os.environ["FOCUSNET_ORTHANC_DICOMWEB"]]
            config["DicomWeb"] = {"Enable": True, "Root": "/dicom-web/"}
        config.update(settings)
        if lua:
            (self.folder / "route.lua").write_text(lua)
            config["LuaScripts"] = [str(self.folder / "route.lua")]
        (self.folder / "orthanc.json").write_text(json.dumps(config))
        self.start()

    def start(self):
        """Starts Orthanc, or starts it again after close() (same ports, same storage)."""
        self.log = open(self.folder / "orthanc.log", "a")
        self.process = subprocess.Popen([os.environ["FOCUSNET_ORTHANC"], str(self.folder / "orthanc.json")], stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def wait_ready(self):
        wait_for("Orthanc's REST API", self._answers, 30)

    def _answers(self):
        assert self.process.poll() is None, (self.folder / "orthanc.log").read_text()
        try:
            return self.get("/system")
        except OSError:
            return None

    def request(self, path, data=None):
        request = urllib.request.Request("http://127.0.0.1:%d%s" % (self.http_port, path), data=data)
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
        return body if path.endswith("/file") else json.loads(body)

    def get(self, path):
        return self.request(path)

    def post(self, path, body):
        return self.request(path, body if isinstance(body, bytes) else json.dumps(body).encode())

    def upload(self, folder):
        """Stores every file of folder; the Orthanc ID of their series."""
        series = {self.post("/instances", path.read_bytes())["ParentSeries"] for path in sorted(folder.iterdir())}
        assert len(series) == 1, series
        return series.pop()

    def segs(self):
        """The SEG instances Orthanc holds, as {Orthanc instance ID: the series it belongs to}."""
        found = {}
        for series in self.get("/series?expand"):
            if series["MainDicomTags"].get("Modality") == "SEG":
                for instance in series["Instances"]:
                    found[instance] = series["ID"]
        return found

    def close(self):
        stop(self.process)
        self.log.close()


class Node:
    """focusnet serve on a free loopback port, sending to Orthanc and accepting only it."""

    def __init__(self, folder, orthanc_port=None, port=None, idle=2, more=()):
        self.folder = pathlib.Path(folder)
        self.port = port or free_port()
        self.spool = self.folder / "spool"
        self.command = [os.environ["FOCUSNET_EXECUTABLE"], "serve", str(self.spool), "--aet", "FOCUSNET", "--port", str(self.port), "--idle",
                        str(idle), "--allow", "ORTHANC", "--allow", "STORESCU@127.0.0.1", "--model",
                        os.environ["FOCUSNET_DEFAULT_MODEL"],
                        "--device", "cpu", "--threads", "2", *more]
        if orthanc_port:
            self.command += ["--send-to", "ORTHANC@127.0.0.1:%d" % orthanc_port]
        self.folder.mkdir(parents=True, exist_ok=True)
        self.starts = 0
        self.start()

    def start(self):
        """Starts the node, or starts it again on the same spool after kill(), with a log file of its own."""
        self.starts += 1
        self.log_file = self.folder / ("node.log" if self.starts == 1 else "node-%d.log" % self.starts)
        self.log = open(self.log_file, "w")
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT)

    def kill(self):
        """kill -9: no chance to finish anything."""
        self.process.kill()
        self.process.wait()
        self.log.close()

    def all_logs(self):
        return "".join((self.folder / name).read_text() for name in
                       ["node.log"] + ["node-%d.log" % k for k in range(2, self.starts + 1)])

    def status(self):
        return json.loads((self.spool / "status.json").read_text())

    def wait_ready(self):
        # The node says so once its port takes connections.
        wait_for("the node to listen", lambda: "listening as FOCUSNET" in self.text(), 60)

    def text(self):
        assert self.process.poll() is None, self.log_file.read_text()
        return self.log_file.read_text()

    def close(self):
        stop(self.process)
        self.log.close()


def storescu(port, files, *options, wait=True):
    """dcmtk's storescu, calling as STORESCU; the finished process, or the running one when wait is False."""
    command = ["storescu", "-to", "10", "-aet", "STORESCU", "-aec", "FOCUSNET", *options, "127.0.0.1", str(port),
               *map(str, files)]
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(command, capture_output=True, text=True, timeout=120)
