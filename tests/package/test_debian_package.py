"""The Debian packages, installed with apt into a fresh minimal Debian 12 root, used there, and removed.

scripts/package.sh builds focusnet and focusnet-dev from the build tree; lintian must find no error in them. A
minimal Debian 12 root is made with debootstrap (kept as a tarball in /var/cache/focusnet-tests between runs of one
machine; made anew without it), and there, with nothing of this repository but the packages and the data copied in:
apt-get installs focusnet from the file, pulling its runtime libraries from Debian; focusnet segments the bundled lung
slice and the real CT series to the same bytes as the build tree's focusnet; python3 imports focusnet and segments the
slice; with focusnet-dev, tests/consumer builds against the installed CMake package and runs; apt-get remove leaves no
FocusNet file. Needs root and Debian's package servers: skipped otherwise, which fails CI (allowed-skips.txt).
The figures (package sizes, Depends, install time, installed size) are printed (pytest -s, or the ctest log).
"""
import os
import re
import shutil
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ["FOCUSNET_SOURCE_DIR"])
BUILD_DIR = Path(os.environ["FOCUSNET_BUILD_DIR"])
EXECUTABLE = os.environ["FOCUSNET_EXECUTABLE"]
SHARED_DATA = Path(os.environ.get("FOCUSNET_SHARED_DATA_DIR", "/nonexistent"))
WORK = Path(os.environ["FOCUSNET_PACKAGE_WORK_DIR"])
MIRROR = os.environ.get("FOCUSNET_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CACHE = Path(os.environ.get("FOCUSNET_PACKAGE_CACHE", "/var/cache/focusnet-tests"))
LUNG_SLICE = SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142.tif"
CT_SERIES = SHARED_DATA / "dicom_samples/ct_series_uids_restored"
SECURITY_MIRROR = os.environ.get("FOCUSNET_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
MARKER = "focusnet-package-test-root"
PROXIES = {k: v for k, v in os.environ.items() if k.lower() in ("http_proxy", "https_proxy", "no_proxy")}


def report(text):
    """A figure for the closing note: printed (pytest -s) and kept in WORK/figures.txt."""
    print(text)
    with open(WORK / "figures.txt", "a") as figures:
        figures.write(text + "\n")


def run(*command, **more):
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, **more)
    assert result.returncode == 0, "%s failed (%d):\n%s\n%s" % (" ".join(map(str, command)), result.returncode,
                                                                 result.stdout[-4000:], result.stderr[-4000:])
    return result.stdout


def mounts_below(root):
    """Mount points below root, deepest first (/proc/mounts writes a space as \\040)."""
    points = [line.split()[1].encode().decode("unicode_escape") for line in Path("/proc/mounts").read_text().splitlines()]
    return sorted((p for p in points if p.startswith(str(root) + "/")), key=len, reverse=True)


def remove_root(root):
    """Removes a root this test made (it carries MARKER), after unmounting what a killed run left mounted below it;
    never while anything is still mounted there, and never crossing into another file system."""
    if not root.exists():
        return
    assert (root / MARKER).exists(), "%s was not made by this test: not removed" % root
    for point in mounts_below(root):
        if subprocess.run(["umount", point], check=False).returncode != 0:
            subprocess.run(["umount", "-l", point], check=False)
    assert not mounts_below(root), "still mounted below %s" % root
    subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=True)


class Root:
    """A Debian root to run commands in with chroot, its /proc mounted while it is in use."""

    def __init__(self, path):
        self.path = path

    def __call__(self, *command, **more):
        environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LANG": "C.UTF-8",
                       **PROXIES}
        return run("chroot", self.path, *command, env=environment, **more)

    def apt_install(self, *packages):
        """apt-get install, with the .deb files a previous run downloaded put back first and the new ones kept."""
        archives = CACHE / "apt-archives"
        archives.mkdir(parents=True, exist_ok=True)
        inside = self.path / "var/cache/apt/archives"
        for deb in archives.glob("*.deb"):
            shutil.copy2(deb, inside)
        started = time.monotonic()
        self("apt-get", "install", "-y", "--no-install-recommends", *packages)
        seconds = time.monotonic() - started
        for deb in inside.glob("*.deb"):
            if not (archives / deb.name).exists():  # under a temporary name first: no half-copied file stays
                shutil.copy2(deb, archives / (deb.name + ".partial"))
                os.replace(archives / (deb.name + ".partial"), archives / deb.name)
        return seconds


def debian_reachable():
    try:
        with urllib.request.urlopen(MIRROR + "/dists/bookworm/Release", timeout=20) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def packages():
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "figures.txt").unlink(missing_ok=True)
    debs = WORK / "debs"
    shutil.rmtree(debs, ignore_errors=True)
    run("bash", SOURCE_DIR / "scripts/package.sh", BUILD_DIR, debs)
    runtime, = debs.glob("focusnet_*_amd64.deb")
    development, = debs.glob("focusnet-dev_*_amd64.deb")
    return runtime, development


@pytest.fixture(scope="module")
def root():
    if os.geteuid() != 0:
        pytest.skip("the package test needs root (debootstrap, chroot)")
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed")
    if not debian_reachable():
        pytest.skip("no network access to Debian's packages at " + MIRROR)
    path = WORK / "debian-root"
    remove_root(path)
    cached = CACHE / "debootstrap-bookworm-minbase.tar"
    started = time.monotonic()
    path.mkdir(parents=True)
    (path / MARKER).touch()  # first, so that a run killed while making it still removes it next time
    if cached.is_file():
        with tarfile.open(cached) as tar:
            tar.extractall(path, numeric_owner=True)
        made = "from the cache %s" % cached
    else:
        run("debootstrap", "--variant=minbase", "bookworm", path, MIRROR)
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = CACHE / ("%s.%d.partial" % (cached.name, os.getpid()))
        with tarfile.open(partial, "w") as tar:
            tar.add(path, arcname=".")
        os.replace(partial, cached)
        made = "by debootstrap"
    # As Debian 12 is installed: with its updates and security suites. No service starts in the root.
    (path / "etc/apt/sources.list").write_text(
        "deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n"
        % (MIRROR, MIRROR, SECURITY_MIRROR))
    (path / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n")
    (path / "usr/sbin/policy-rc.d").chmod(0o755)
    report("Debian 12 root made %s in %.0f s" % (made, time.monotonic() - started))
    shutil.copy2("/etc/resolv.conf", path / "etc/resolv.conf")
    run("mount", "-t", "proc", "proc", path / "proc")
    try:
        chroot = Root(path)
        chroot("apt-get", "update")
        yield chroot
    finally:
        subprocess.run(["umount", str(path / "proc")], check=False)
        remove_root(path)


def test_lintian_finds_no_error(packages):
    result = subprocess.run(["lintian", "--fail-on", "error", "--no-tag-display-limit", *map(str, packages)],
                            capture_output=True, text=True)
    tags = [line for line in result.stdout.splitlines() if line[:2] in ("E:", "W:", "I:")]
    report("lintian:\n" + "\n".join(tags))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [line for line in tags if line.startswith("E:")]


def test_installed_from_the_package_it_segments_imports_builds_and_goes_away(packages, root, tmp_path):
    runtime, development = packages
    for deb in packages:
        fields = run("dpkg-deb", "--field", deb, "Package", "Version", "Depends", "Installed-Size")
        report("%s: %.2f MiB\n%s" % (deb.name, deb.stat().st_size / 2**20, fields.strip()))
    # dpkg-shlibdeps computed the runtime package's Depends from its binaries: Debian's runtime libraries, no -dev.
    depends = run("dpkg-deb", "--field", runtime, "Depends")
    for library in ["libtorch1.13", "libinsighttoolkit5.2", "libdcmtk17", "libvtk9.1", "libc6"]:
        assert library in depends
    assert "-dev" not in depends

    inside = root.path / "tmp/focusnet-test"
    inside.mkdir()
    for deb in packages:
        shutil.copy2(deb, inside)
    def disk_mib():
        return int(run("du", "-sm", "--exclude=proc", "--exclude=var/cache/apt", "--exclude=tmp", root.path).split()[0])

    before = disk_mib()
    seconds = root.apt_install("/tmp/focusnet-test/" + runtime.name)
    used = root("dpkg-query", "--show", "--showformat", "${Installed-Size}", "focusnet")
    report("apt-get install of %s and what it pulls: %.0f s; focusnet itself takes %.1f MiB installed"
           % (runtime.name, seconds, int(used) / 1024))
    after = disk_mib()
    report("the root: %d MiB before, %d MiB with focusnet and its runtime libraries installed (apt's cache left out)"
           % (before, after))
    # No compiler came with it.
    assert not (root.path / "usr/bin/g++").exists() and not (root.path / "usr/bin/cmake").exists()

    # focusnet segments with its default model, to the same bytes as the build tree's.
    shutil.copy2(LUNG_SLICE, inside / "lung.tif")
    shutil.copytree(CT_SERIES, inside / "ct")
    build_tree = {k: v for k, v in os.environ.items() if k != "FOCUSNET_MODEL"}  # its default model, as installed
    for name, source, here in [("lung", "lung.tif", LUNG_SLICE), ("ct", "ct", CT_SERIES)]:
        said = root("focusnet", "segment", "/tmp/focusnet-test/" + source, "/tmp/focusnet-test/%s.nrrd" % name,
                    "--threads", "2")
        assert re.search(r": [1-9][0-9]* Lung (pixels|voxels)", said), said
        run(EXECUTABLE, "segment", here, tmp_path / (name + ".nrrd"), "--threads", "2", env=build_tree)
        assert (inside / (name + ".nrrd")).read_bytes() == (tmp_path / (name + ".nrrd")).read_bytes(), name
    assert root("focusnet-train", "--help").startswith("Train")
    # The Slicer CLI module runs there too: Slicer asks it for its XML description.
    assert "<executable>" in root("/usr/lib/focusnet/cli-modules/FocusNetSegmentation", "--xml")

    # Debian's python3 imports the module from dist-packages and segments the slice the same way.
    printed = root("python3", "-c", "import focusnet; m = focusnet.Model(threads=2); "
                   "r = m.segment_file('/tmp/focusnet-test/lung.tif', '/tmp/focusnet-test/python.nrrd'); "
                   "print(focusnet.__file__, r['label_voxels'])")
    assert printed.startswith("/usr/lib/python3/dist-packages/focusnet.")
    assert (inside / "python.nrrd").read_bytes() == (inside / "lung.nrrd").read_bytes()

    # With focusnet-dev (which brings the ITK and VTK development packages) and a compiler, a downstream ITK project
    # builds against the installed CMake package and runs.
    seconds = root.apt_install("/tmp/focusnet-test/" + development.name, "cmake", "make", "g++")
    report("apt-get install of %s, cmake, make and g++: %.0f s" % (development.name, seconds))
    shutil.copytree(SOURCE_DIR / "tests/consumer", inside / "consumer")
    root("cmake", "-S", "/tmp/focusnet-test/consumer", "-B", "/tmp/focusnet-test/consumer-build",
         "-DCMAKE_BUILD_TYPE=Release")
    root("cmake", "--build", "/tmp/focusnet-test/consumer-build")
    assert "geometry kept" in root("/tmp/focusnet-test/consumer-build/consumer")

    # apt-get remove leaves nothing of FocusNet behind.
    files = root("dpkg-query", "--listfiles", "focusnet", "focusnet-dev").split()
    ours = [f for f in files if "focusnet" in f.lower()]
    assert "/usr/bin/focusnet" in ours and "/usr/share/focusnet/models/focusnet-lung.fnm" in ours
    root("apt-get", "remove", "-y", "focusnet", "focusnet-dev")
    left = [f for f in files if (root.path / f.lstrip("/")).is_file() or (root.path / f.lstrip("/")).is_symlink()]
    assert left == []
    found = run("find", root.path / "usr", root.path / "etc", "-iname", "*focusnet*").split()
    assert found == []
