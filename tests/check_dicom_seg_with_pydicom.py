#!/usr/bin/env python3
"""Reads a DICOM SEG written by `focusnet segment` with pydicom (the reader highdicom builds on), independently of
DCMTK, and checks that every frame lies on the slice of the source instance it references, that the segment is
described as the model says, and that the frames hold exactly the label voxels the command reported.

Usage: check_dicom_seg_with_pydicom.py FOCUSNET_EXECUTABLE MODEL SERIES_FOLDER WORK_FOLDER
"""
import pathlib
import re
import shutil
import subprocess
import sys

import numpy
import pydicom


def main(executable, model, series_folder, work):
    work = pathlib.Path(work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    seg_file = work / "seg.dcm"
    run = subprocess.run(
        [executable, "segment", series_folder, str(seg_file), "--model", model, "--threads", "2"],
        capture_output=True, text=True, check=True)
    voxels = int(re.search(r": (\d+) \S+ voxels", run.stdout).group(1))

    sources = {}
    for path in pathlib.Path(series_folder).iterdir():
        source = pydicom.dcmread(path, stop_before_pixels=True)
        sources[source.SOPInstanceUID] = source

    seg = pydicom.dcmread(seg_file)
    assert seg.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4", seg.SOPClassUID
    assert seg.Modality == "SEG"
    assert seg.SegmentationType == "BINARY"
    any_source = next(iter(sources.values()))
    assert seg.FrameOfReferenceUID == any_source.FrameOfReferenceUID
    assert seg.StudyInstanceUID == any_source.StudyInstanceUID
    assert seg.PatientID == any_source.PatientID
    referenced = {item.SeriesInstanceUID for item in seg.ReferencedSeriesSequence}
    assert referenced == {any_source.SeriesInstanceUID}, referenced

    segment = seg.SegmentSequence[0]
    assert segment.SegmentLabel == "Lung", segment.SegmentLabel
    assert segment.SegmentAlgorithmType == "AUTOMATIC"
    assert segment.SegmentAlgorithmName.startswith("FocusNet ")
    assert segment.SegmentedPropertyTypeCodeSequence[0].CodeValue == "39607008"
    # The lung's sRGB 128, 174, 128 as DICOM CIELab (relative to D50, PS3.3 C.10.7.1.1), computed by hand from the
    # sRGB, Bradford and CIE Lab definitions: L* 66.866, a* -22.948, b* 18.538, scaled to 0-65535.
    assert [int(v) for v in segment.RecommendedDisplayCIELabValue] == [43821, 26998, 37660]

    shared = seg.SharedFunctionalGroupsSequence[0]
    orientation = [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient]
    pixels = seg.pixel_array.reshape(int(seg.NumberOfFrames), seg.Rows, seg.Columns)
    assert 0 < pixels.shape[0] <= len(sources)
    for frame, group in zip(pixels, seg.PerFrameFunctionalGroupsSequence):
        uid = group.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        source = sources[uid]
        position = [float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient]
        numpy.testing.assert_allclose(position, [float(v) for v in source.ImagePositionPatient], atol=1e-4)
        numpy.testing.assert_allclose(orientation, [float(v) for v in source.ImageOrientationPatient], atol=1e-6)
        assert group.SegmentIdentificationSequence[0].ReferencedSegmentNumber == 1
        assert frame.any(), "an empty frame was written although empty frames are skipped"
    assert int(pixels.sum()) == voxels, (int(pixels.sum()), voxels)
    print(f"{seg_file}: {pixels.shape[0]} frames, {voxels} voxels, every frame on its source slice")


if __name__ == "__main__":
    main(*sys.argv[1:])
