"""`focusnet mesh` read back with VTK's own readers from Python (Debian's python3-vtk9), not with the writer's code.

A voxelised sphere in an oblique, anisotropic volume gives a closed surface whose volume is the voxels' within 1%
(measured 0.23%; a block cut by the border 0.30-0.55%),
inside the image's physical bounds in LPS and mirrored in x and y with --ras; every format reads back; an empty label
map is refused without a file. test_real_data_* read ../shared/data.
"""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

vtk = pytest.importorskip("vtk")

FOCUSNET = os.environ["FOCUSNET_EXECUTABLE"]
SOURCE_DIR = Path(os.environ["FOCUSNET_SOURCE_DIR"])
SHARED_DATA = Path(os.environ.get("FOCUSNET_SHARED_DATA_DIR", "/nonexistent"))
LUNG_MODEL = SOURCE_DIR / "test_data/models/focusnet-lung.fnm"
SPACING, ORIGIN = np.array([0.8, 0.6, 1.5]), np.array([-40.0, 25.0, 110.0])
DIRECTION = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # columns: the axes' directions
SPHERE_CENTRE = np.array([30 * 0.8, 25 * 0.6, 15 * 1.5])  # mm from the first voxel along the image axes
READERS = {".vtp": "vtkXMLPolyDataReader", ".vtk": "vtkPolyDataReader", ".stl": "vtkSTLReader",
           ".obj": "vtkOBJReader", ".ply": "vtkPLYReader"}


def write_mha(path, labels):
    lines = ["ObjectType = Image", "NDims = 3", "DimSize = " + " ".join(map(str, labels.shape[::-1])),
             "ElementSpacing = " + " ".join(map(repr, SPACING)), "Offset = " + " ".join(map(repr, ORIGIN)),
             "TransformMatrix = " + " ".join(repr(v) for v in DIRECTION.T.ravel()),
             "ElementType = MET_UCHAR", "ElementDataFile = LOCAL"]
    Path(path).write_bytes(("\n".join(lines) + "\n").encode() + labels.astype(np.uint8).tobytes())


def read_mesh(path):
    reader = getattr(vtk, READERS[Path(path).suffix])()
    reader.SetFileName(str(path))
    reader.Update()
    return reader.GetOutput()


def enclosed_volume(mesh):
    triangles = vtk.vtkTriangleFilter()
    triangles.SetInputData(mesh)
    properties = vtk.vtkMassProperties()
    properties.SetInputConnection(triangles.GetOutputPort())
    properties.Update()
    return properties.GetVolume()


def physical_corners(shape):
    """The physical (LPS) positions of the corner voxels' centres of a (z, y, x) volume."""
    corners = np.array([[i, j, k] for i in (0, shape[2] - 1) for j in (0, shape[1] - 1) for k in (0, shape[0] - 1)])
    return ORIGIN + (DIRECTION @ (corners * SPACING).T).T


@pytest.fixture(scope="module")
def sphere(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mesh")
    z, y, x = np.mgrid[0:30, 0:50, 0:60]
    points = np.stack([x * SPACING[0], y * SPACING[1], z * SPACING[2]], axis=-1)  # mm from the first voxel, x y z
    labels = (np.linalg.norm(points - SPHERE_CENTRE, axis=-1) < 13.0).astype(np.uint8)
    write_mha(folder / "sphere.mha", labels)
    return folder, labels


def focusnet(*arguments):
    return subprocess.run([FOCUSNET, *map(str, arguments)], capture_output=True, text=True)


@pytest.mark.parametrize("extension", list(READERS))
def test_every_format_reads_back_as_a_closed_surface_of_the_voxels_volume(sphere, extension):
    folder, labels = sphere
    output = folder / ("sphere" + extension)
    result = focusnet("mesh", folder / "sphere.mha", output, "--model", LUNG_MODEL, "--overwrite")
    assert result.returncode == 0, result.stderr
    mesh = read_mesh(output)
    assert mesh.GetNumberOfPolys() > 1000
    voxels = labels.sum() * np.prod(SPACING)
    assert enclosed_volume(mesh) == pytest.approx(voxels, rel=0.01)
    # Inside the image's physical bounds (LPS), and around the sphere's centre.
    corners = physical_corners(labels.shape)
    low, high = corners.min(axis=0), corners.max(axis=0)
    bounds = np.array(mesh.GetBounds()).reshape(3, 2)
    assert np.all(bounds[:, 0] >= low - 1e-6) and np.all(bounds[:, 1] <= high + 1e-6)
    centre = ORIGIN + DIRECTION @ SPHERE_CENTRE
    np.testing.assert_allclose(bounds.mean(axis=1), centre, atol=0.6)


def boundary_edges(mesh):
    edges = vtk.vtkFeatureEdges()
    edges.SetInputData(mesh)
    edges.BoundaryEdgesOn()
    edges.FeatureEdgesOff()
    edges.ManifoldEdgesOff()
    edges.NonManifoldEdgesOff()
    edges.Update()
    return edges.GetOutput().GetNumberOfCells()


@pytest.mark.parametrize("smoothing", [0, 15])
def test_a_structure_cut_by_the_image_border_is_closed_there(tmp_path, smoothing):
    labels = np.zeros((12, 30, 40), np.uint8)
    labels[0:8, 0:20, 5:40] = 1  # touches the first slice, the first row and the last column
    write_mha(tmp_path / "block.mha", labels)
    result = focusnet("mesh", tmp_path / "block.mha", tmp_path / "block.vtp", "--model", LUNG_MODEL,
                      "--smoothing", smoothing)
    assert result.returncode == 0, result.stderr
    mesh = read_mesh(tmp_path / "block.vtp")
    assert boundary_edges(mesh) == 0
    assert enclosed_volume(mesh) == pytest.approx(labels.sum() * np.prod(SPACING), rel=0.01)


def test_name_and_colour_travel_with_the_mesh(sphere):
    folder, _ = sphere
    for extension in (".vtp", ".vtk"):
        focusnet("mesh", folder / "sphere.mha", folder / ("named" + extension), "--model", LUNG_MODEL, "--overwrite")
        fields = read_mesh(folder / ("named" + extension)).GetFieldData()
        assert fields.GetAbstractArray("Name").GetValue(0) == "Lung"
        assert [round(c * 255) for c in fields.GetArray("Color").GetTuple3(0)] == [128, 174, 128]


def test_ras_mirrors_x_and_y(sphere):
    folder, _ = sphere
    focusnet("mesh", folder / "sphere.mha", folder / "lps.vtp", "--model", LUNG_MODEL, "--overwrite")
    focusnet("mesh", folder / "sphere.mha", folder / "ras.vtp", "--model", LUNG_MODEL, "--ras", "--overwrite")
    lps = np.array(read_mesh(folder / "lps.vtp").GetBounds()).reshape(3, 2)
    ras = np.array(read_mesh(folder / "ras.vtp").GetBounds()).reshape(3, 2)
    np.testing.assert_allclose(ras[:2], -lps[:2, ::-1], atol=1e-4)
    np.testing.assert_allclose(ras[2], lps[2], atol=1e-4)
    # Normals still point out of the sphere.
    mesh = read_mesh(folder / "ras.vtp")
    normals = mesh.GetPointData().GetNormals()
    centre = np.array(mesh.GetCenter())
    outward = [np.dot(np.array(mesh.GetPoint(i)) - centre, normals.GetTuple3(i)) > 0 for i in range(0, mesh.GetNumberOfPoints(), 50)]
    assert all(outward)


def test_an_empty_label_map_is_refused_without_a_file(sphere, tmp_path):
    write_mha(tmp_path / "empty.mha", np.zeros((4, 8, 8), np.uint8))
    result = focusnet("mesh", tmp_path / "empty.mha", tmp_path / "empty.stl", "--model", LUNG_MODEL)
    assert result.returncode != 0 and "empty.mha" in result.stderr and "no voxel" in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "empty.stl").exists()


def test_a_2d_label_map_gives_its_contour_as_polylines(tmp_path):
    lung = SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142_mask.tif"
    result = focusnet("mesh", lung, tmp_path / "contour.vtp", "--model", LUNG_MODEL, "--label", 255)
    assert result.returncode == 0, result.stderr
    contour = read_mesh(tmp_path / "contour.vtp")
    assert contour.GetNumberOfLines() > 100 and contour.GetNumberOfPolys() == 0


def test_real_data_ct_segmentation_in_every_format(tmp_path):
    series = SHARED_DATA / "dicom_samples/ct_series_uids_restored"
    result = focusnet("segment", series, tmp_path / "ct.nrrd", "--model", LUNG_MODEL, "--threads", 2, "-q")
    assert result.returncode == 0, result.stderr
    volumes = []
    for extension in READERS:
        result = focusnet("mesh", tmp_path / "ct.nrrd", tmp_path / ("ct" + extension), "--model", LUNG_MODEL)
        assert result.returncode == 0, result.stderr
        mesh = read_mesh(tmp_path / ("ct" + extension))
        assert mesh.GetNumberOfPolys() > 1000
        volumes.append(enclosed_volume(mesh))
    assert max(volumes) == pytest.approx(min(volumes), rel=1e-3)  # the same surface in every format


def read_image_data(path):
    reader = vtk.vtkXMLImageDataReader()
    reader.SetFileName(str(path))
    reader.Update()
    image = reader.GetOutput()
    scalars = vtk.util.numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
    return image, scalars.reshape(image.GetDimensions()[::-1])


def test_segment_writes_vti_and_a_mesh_beside_the_label_map(tmp_path):
    import vtk.util.numpy_support  # noqa: F401 (read_image_data)
    result = focusnet("segment", SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142.tif", tmp_path / "lung.vti",
                      "--mesh", tmp_path / "lung.vtp", "--model", LUNG_MODEL, "--threads", 2)
    assert result.returncode == 0, result.stderr
    result = focusnet("segment", SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142.tif", tmp_path / "lung.png",
                      "--model", LUNG_MODEL, "--threads", 2)
    assert result.returncode == 0, result.stderr
    image, labels = read_image_data(tmp_path / "lung.vti")
    png = vtk.vtkPNGReader()  # the .png label map comes from ITK's writer
    png.SetFileName(str(tmp_path / "lung.png"))
    png.Update()
    # vtkPNGReader puts the file's last row first (VTK's lower-left origin); ITK and .vti keep the file's order.
    expected = vtk.util.numpy_support.vtk_to_numpy(png.GetOutput().GetPointData().GetScalars()).reshape(512, 512)
    expected = expected[::-1].ravel()
    assert image.GetDimensions() == (512, 512, 1) and image.GetOrigin() == (0, 0, 0)
    assert np.array_equal(labels.ravel(), expected) and 1000 < np.count_nonzero(labels) < labels.size / 2
    contour = read_mesh(tmp_path / "lung.vtp")
    assert contour.GetNumberOfLines() > 100
    assert contour.GetFieldData().GetAbstractArray("Name").GetValue(0) == "Lung"


def test_segment_refuses_a_bad_mesh_name_before_any_work(tmp_path):
    result = focusnet("segment", SOURCE_DIR / "test_data/Input/lung_ct_ID_0000_Z_0142.tif", tmp_path / "lung.vti",
                      "--mesh", tmp_path / "lung.xyz", "--model", LUNG_MODEL)
    assert result.returncode != 0 and "lung.xyz" in result.stderr and result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_real_data_batch_writes_vti_with_the_series_geometry(tmp_path):
    import vtk.util.numpy_support  # noqa: F401 (read_image_data)
    series = SHARED_DATA / "dicom_samples/ct_series_uids_restored"
    result = focusnet("batch", series, tmp_path / "out", "--formats", "vti", "--model", LUNG_MODEL, "--threads", 2,
                      "-q")
    assert result.returncode == 0, result.stderr
    [written] = list((tmp_path / "out").rglob("label.vti"))
    image, labels = read_image_data(written)
    # The series' geometry as its README gives it (pydicom): 512 x 512 x 20, 0.9765625 mm pixels, 2 mm between
    # slices, the first slice at z = -804.5 (the lowest), axial.
    assert image.GetDimensions() == (512, 512, 20)
    assert image.GetSpacing() == pytest.approx((0.9765625, 0.9765625, 2.0))
    assert image.GetOrigin()[2] == pytest.approx(-804.5)
    direction = image.GetDirectionMatrix()
    assert [direction.GetElement(r, c) for r in range(3) for c in range(3)] == pytest.approx(np.eye(3).ravel())
    assert set(np.unique(labels)) == {0, 1} and np.count_nonzero(labels) > 10000
    assert '"vti": "label.vti"' in (written.parent / "summary.json").read_text()
