"""The 3D Slicer extension as Slicer's extension factory builds it and as a user installs it, checked against Slicer's
own files: build-extension.sh (run first by ctest) configured the repository root with -DSlicer_DIR against a Slicer
SDK stand-in made of Slicer's CMake (../shared/tools/slicer-sdk), built it and ran cpack. Here:
- the package and the extension description have the names Slicer's CPack and description code give them, and the
  Extensions Index's catalog entry is read by Slicer's own JSON reader;
- the package unpacked alone: lean (no headers, no static libraries), every ELF file resolving what it loads inside
  the package or on a short allow-list, without LD_LIBRARY_PATH;
- the packaged CLI run under env -i with the command line Slicer's parser (SlicerExecutionModel's
  ModuleDescriptionParser) makes of the installed XML, on the real CT series with the bundled default model, giving
  the label map of `focusnet segment`; both label maps read with pynrrd.
Run with Debian's /usr/bin/python3 (numpy, pydicom with GDCM for the series' JPEG 2000).
"""
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pydicom
import pytest

WORK = Path(os.environ["FOCUSNET_SLICER_PACKAGE_WORK"])
SOURCE_DIR = Path(os.environ["FOCUSNET_SOURCE_DIR"])
SHARED_DIR = Path(os.environ["FOCUSNET_SHARED_DIR"])
FOCUSNET = os.environ["FOCUSNET_EXECUTABLE"]
THIRD_PARTY = SHARED_DIR / "third_party"
sys.path[:0] = [str(THIRD_PARTY / "pynrrd")]
import nrrd  # noqa: E402  (pynrrd, mhe/pynrrd, from ../shared/third_party)

BUILT = dict(line.split("=", 1) for line in (WORK / "built.env").read_text().splitlines())
BUILD = Path(BUILT["BUILD"])
CLONE = Path(BUILT["CLONE"])
SLICER_DIR = Path(BUILT["Slicer_DIR"])
CT_SERIES = SHARED_DIR / "data/dicom_samples/ct_series_uids_restored"
ORIGIN = "https://example.org/focusnet/FocusNet.git"

# What a package may load from outside itself. The base system, which every Linux machine that runs Slicer's GUI has
# and must keep its own: glibc's libraries, the GCC runtime's C++ libraries, and the interfaces to the display and
# video drivers (OpenGL through glvnd, X11 and xcb client libraries, DRM, VA-API, VDPAU), which have to match the
# machine's drivers. And what Slicer provides: its ITK, i.e. Slicer's library ITKFactoryRegistration and everything
# that it loads (here Debian's ITK, as the SDK stand-in builds it).
BASE_SYSTEM = re.compile(r"^(ld-linux-x86-64\.so\.2|lib(c|m|mvec|dl|pthread|rt|resolv|util)\.so\.\d+"
                         r"|libstdc\+\+\.so\.6|libgcc_s\.so\.1"
                         r"|lib(GL|GLX|GLdispatch|OpenGL|EGL)\.so\.\d+|libX11(-xcb)?\.so\.\d+|libxcb(-[a-z0-9]+)?\.so\.\d+"
                         r"|libX(au|dmcp|ext|render|fixes)\.so\.\d+|libdrm\.so\.2|libva(-drm|-x11)?\.so\.2"
                         r"|libvdpau\.so\.1|libmfx\.so\.1)$")


SLICER_CONFIG = (SLICER_DIR / "SlicerConfig.cmake").read_text()


def slicer_variable(name):
    return re.search(r'set\(%s "?([^")]*)"?\)' % name, SLICER_CONFIG).group(1)


def git(*arguments):
    return subprocess.run(["git", "-C", str(CLONE), *arguments], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def package_file():
    revision, date = git("rev-parse", "--short=7", "HEAD"), git("log", "-1", "--format=%cd", "--date=short")
    name = "%s-%s-%s-FocusNet-git%s-%s.tar.gz" % (slicer_variable("Slicer_REVISION"), slicer_variable("Slicer_OS"),
                                                 slicer_variable("Slicer_ARCHITECTURE"), revision, date)
    assert sorted(p.name for p in BUILD.glob("*.tar.gz")) == [name]
    return BUILD / name


@pytest.fixture(scope="module")
def package(package_file, tmp_path_factory):
    """The package unpacked into an empty folder: its one top folder."""
    folder = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(package_file) as archive:
        archive.extractall(folder)
    top = list(folder.iterdir())
    assert [p.name for p in top] == [package_file.name[: -len(".tar.gz")]]
    return top[0]


def slicer_dir(kind):
    """lib/Slicer-X.Y or share/Slicer-X.Y, as the Slicer build's config names them."""
    return slicer_variable("Slicer_%s_DIR" % kind.upper())


def description(path):
    pairs = {}
    for line in Path(path).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(" ")
            pairs[key] = value.strip()
    return pairs


def test_the_description_has_what_slicers_code_gives_it(package):
    built = description(BUILD / "FocusNet.s4ext")
    assert description(package / slicer_dir("share") / "FocusNet.s4ext") == built
    assert built["scm"] == "git" and built["scmurl"] == ORIGIN
    assert built["scmrevision"] == git("rev-parse", "--short=7", "HEAD")
    homepage = ORIGIN[: -len(".git")]
    assert built["homepage"] == homepage and built["category"] == "Segmentation"
    # The icon and the screenshot: absolute addresses below the homepage, of files the repository has.
    for key in ("iconurl", "screenshoturls"):
        prefix = homepage + "/raw/main/"
        assert built[key].startswith(prefix), key
        assert (SOURCE_DIR / built[key][len(prefix):]).is_file(), built[key]
    assert re.fullmatch(r"[^(),]+ \([^()]+\)(, [^(),]+ \([^()]+\))*", built["contributors"]), built["contributors"]
    assert "FocusNet" in built["description"] and built["depends"] == "NA"


def test_the_catalog_entry_is_read_by_slicers_own_reader(tmp_path):
    script = tmp_path / "read.cmake"
    script.write_text(
        'set(Slicer_EXTENSIONS_CMAKE_DIR "%s")\n'
        'include("%s/SlicerFunctionExtractExtensionDescription.cmake")\n'
        'slicerFunctionExtractExtensionDescriptionFromJson(EXTENSION_FILE "%s" VAR_PREFIX f)\n'
        'foreach(name SCM_TYPE SCM_URL SCM_REVISION CATEGORY TIER BUILD_SUBDIRECTORY ENABLED)\n'
        '  message("${name}=${f_EXT_${name}}")\n'
        'endforeach()\n' % ((THIRD_PARTY / "slicer/Extensions/CMake",) * 2 + (BUILD / "FocusNet.json",)))
    result = subprocess.run([BUILT["CMAKE"], "-P", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    read = dict(line.split("=", 1) for line in result.stderr.splitlines() if "=" in line)
    assert read == dict(SCM_TYPE="git", SCM_URL=ORIGIN, SCM_REVISION="main", CATEGORY="Segmentation", TIER="1",
                        BUILD_SUBDIRECTORY=".", ENABLED="1")


def test_the_licence_file_is_the_licence_the_sources_claim():
    licence = (SOURCE_DIR / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    claims = set()
    for path in SOURCE_DIR.glob("*/**/*.[ch]*"):
        top = path.parts[len(SOURCE_DIR.parts)]
        if path.suffix in (".h", ".cxx", ".hxx") and not top.startswith("build"):  # not build/, build-sanitize/...
            claims.update(re.findall(r"Licensed under the ([^\n]*)", path.read_text(errors="replace")))
    assert claims == {"Apache License, Version 2.0"}
    xml = (SOURCE_DIR / "slicer_extension/FocusNetSegmentation/FocusNetSegmentation.xml").read_text()
    assert "<license>Apache 2.0</license>" in xml


def test_both_module_tests_are_registered():
    tests = (WORK / "ctest-list.txt").read_text()
    assert "py_FocusNet\n" in tests  # FocusNetTest, by slicer_add_python_unittest
    assert "py_nomainwindow_qSlicerFocusNetModuleGenericTest" in tests  # WITH_GENERIC_TESTS, --disable-cli-modules


def test_the_package_holds_the_modules_the_model_and_no_development_files(package, package_file):
    lib, share = package / slicer_dir("lib"), package / slicer_dir("share")
    cli = lib / "cli-modules/FocusNetSegmentation"
    assert cli.is_file() and os.access(cli, os.X_OK)
    # Slicer reads <executable>.xml beside an executable CLI instead of running it with --xml.
    xml = (SOURCE_DIR / "slicer_extension/FocusNetSegmentation/FocusNetSegmentation.xml").read_bytes()
    assert (lib / "cli-modules/FocusNetSegmentation.xml").read_bytes() == xml
    for name in ("FocusNet.py", "FocusNetLib/__init__.py", "Resources/UI/FocusNet.ui", "Resources/Icons/FocusNet.png"):
        assert (lib / "qt-scripted-modules" / name).is_file(), name
    # The libraries in a folder of their own: Slicer puts lib/Slicer-X.Y itself on the library path of everything.
    assert [p.name for p in lib.iterdir() if ".so" in p.name] == []
    assert (lib / "FocusNet/libtorch_cpu.so.1.13").is_file() and (lib / "FocusNet/libfocusnet-core.so.0.1").exists()
    model = share / "FocusNet/models/focusnet-lung.fnm"
    assert model.read_bytes() == (SOURCE_DIR / "test_data/models/focusnet-lung.fnm").read_bytes()
    files = [p for p in package.rglob("*") if p.is_file() or p.is_symlink()]
    development = [p for p in files if p.suffix in (".h", ".hxx", ".hpp", ".a", ".pc", ".cmake")]
    assert development == []
    # Libraries under the names the loader asks for, no development names (the .so a linker looks for).
    assert [p for p in files if p.is_symlink() and p.name.endswith(".so")] == []
    regular = [p for p in files if not p.is_symlink()]
    total = sum(p.stat().st_size for p in regular)
    libraries = sorted((p.stat().st_size, p.name) for p in regular if ".so" in p.name)
    print("\npackage %s: %.1f MB compressed, %.1f MB unpacked, %d files (%d links), %d libraries" % (
        package_file.name, package_file.stat().st_size / 1e6, total / 1e6, len(files), len(files) - len(regular),
        len(libraries)))
    for size, name in reversed(libraries[-25:]):
        print("  %8.1f MB  %s" % (size / 1e6, name))


def elf_files(folder):
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as file:
                if file.read(4) == b"\x7fELF":
                    yield path


def resolved_libraries(path):
    """{name: resolved path or None} for every library the loader loads for path, as ldd says with no environment."""
    result = subprocess.run(["env", "-i", "/usr/bin/ldd", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    libraries = {}
    for line in result.stdout.splitlines():
        found = re.match(r"\s*(\S+) => (not found|(\S+) \(0x)", line)
        if found:
            libraries[found.group(1)] = found.group(3)
        elif re.match(r"\s*/\S+ \(0x", line):
            libraries[os.path.basename(line.split()[0])] = line.split()[0]
    return libraries


def needed(path):
    """The libraries an ELF file names itself (DT_NEEDED), as readelf lists them."""
    dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)


def test_every_elf_file_loads_only_from_the_package_the_base_system_and_slicer(package):
    # Each file's own needs, resolved as the loader resolves them for that file alone: what a file in the package
    # needs in turn is checked as that file; what an allowed system library needs is the system's.
    factory = SLICER_DIR / "bin/libITKFactoryRegistration.so"
    slicer_provides = {os.path.realpath(factory)} | {
        os.path.realpath(p) for p in resolved_libraries(factory).values() if p}
    files = list(elf_files(package))
    assert len(files) > 5
    outside = set()
    for path in files:
        resolved = resolved_libraries(path)
        for name in needed(path):
            where = resolved.get(name)
            assert where is not None, "%s: %s not found" % (path.relative_to(package), name)
            real = os.path.realpath(where)
            if real.startswith(str(package) + os.sep):
                continue
            assert BASE_SYSTEM.match(name) or real in slicer_provides, "%s loads %s from %s" % (
                path.relative_to(package), name, where)
            outside.add(name if BASE_SYSTEM.match(name) else "Slicer's " + name)
    print("\n%d ELF files; loaded from outside the package: %s" % (len(files), ", ".join(sorted(outside))))


def write_series_as_nrrd(folder, path):
    """The CT series as Slicer hands a volume to a CLI module: a NRRD file in LPS (pydicom, GDCM for JPEG 2000)."""
    slices = sorted((pydicom.dcmread(f) for f in folder.iterdir()), key=lambda d: float(d.ImagePositionPatient[2]))
    volume = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in slices])
    row, column = (np.array(slices[0].ImageOrientationPatient[:3], float),
                   np.array(slices[0].ImageOrientationPatient[3:], float))
    first, last = (np.array(s.ImagePositionPatient, float) for s in (slices[0], slices[-1]))
    step = (last - first) / (len(slices) - 1)
    spacing = [float(v) for v in slices[0].PixelSpacing]  # row spacing, column spacing
    directions = np.array([row * spacing[1], column * spacing[0], step])
    nrrd.write(str(path), volume.astype(np.int16).transpose(2, 1, 0), {
        "space": "left-posterior-superior", "space directions": directions, "space origin": first,
        "kinds": ["domain"] * 3, "encoding": "raw"})


def test_the_packaged_cli_runs_alone_as_slicer_runs_it_and_agrees_with_focusnet_segment(package, tmp_path):
    volume = tmp_path / "ct.nrrd"
    write_series_as_nrrd(CT_SERIES, volume)
    cli = package / slicer_dir("lib") / "cli-modules/FocusNetSegmentation"
    labels, returned = tmp_path / "labels.nrrd", tmp_path / "return.params"
    command = subprocess.run(
        [BUILT["SLICER_COMMAND_LINE"], str(cli.with_suffix(".xml")), str(cli), "--return-parameter-file", str(returned),
         "inputVolume=%s" % volume, "outputLabelVolume=%s" % labels, "threads=2"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    print("\nSlicer's command line: " + " ".join(
        str(Path(a).relative_to(package)) if a.startswith(str(package)) else Path(a).name if a.startswith("/") else a
        for a in command))
    run = subprocess.run(["env", "-i"] + command, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    # The default model, the package's: the CLI names the file it loaded, and the package's is the only one it sees
    # (the reference below is the build tree's copy of the same file).
    assert "<filter-comment>Lung with focusnet-lung.fnm</filter-comment>" in run.stdout
    assert "<filter-progress>1</filter-progress>" in run.stdout and "<filter-end>" in run.stdout

    reference = tmp_path / "reference.nrrd"
    subprocess.run([FOCUSNET, "segment", str(volume), str(reference), "--threads", "2"], check=True,
                   capture_output=True)
    ours, ours_header = nrrd.read(str(labels))
    theirs, theirs_header = nrrd.read(str(reference))
    np.testing.assert_array_equal(ours, theirs)
    assert ours.sum() > 0
    _, volume_header = nrrd.read(str(volume))
    for header in (ours_header, theirs_header):
        np.testing.assert_allclose(header["space directions"], volume_header["space directions"], atol=1e-6)
        np.testing.assert_allclose(header["space origin"], volume_header["space origin"], atol=1e-6)
    values = dict(line.split(" = ") for line in returned.read_text().splitlines())
    assert int(values["voxelCount"]) == int(np.count_nonzero(ours))
