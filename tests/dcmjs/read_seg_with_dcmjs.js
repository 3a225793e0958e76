// Reads a DICOM SEG with dcmjs (the DICOM library of the OHIF viewer) and prints what a viewer takes from it as JSON:
// the frames' size, plane positions, orientation, spacing, referenced source instances and segment numbers, and each
// segment's attributes with its display colour in RGB (dcmjs's CIELab conversion). The frames' pixels, unpacked from
// one bit each by dcmjs's BitArray, go to PIXELS_OUT as bytes (0 or 1), frame after frame.
// Usage: node read_seg_with_dcmjs.js SEG_FILE PIXELS_OUT   (with NODE_PATH naming the folder dcmjs is installed in)
"use strict";
const fs = require("fs");
const dcmjs = require("dcmjs");

const [segFile, pixelsOut] = process.argv.slice(2);
const bytes = fs.readFileSync(segFile);
const message = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
const seg = dcmjs.data.DicomMetaDictionary.naturalizeDataset(message.dict);
const one = (value) => (Array.isArray(value) ? value[0] : value);

const frameCount = Number(seg.NumberOfFrames);
const frameSize = seg.Rows * seg.Columns;
const packed = new Uint8Array(Array.isArray(seg.PixelData) ? seg.PixelData[0] : seg.PixelData);
// unpack gives 255 for a set bit.
const pixels = dcmjs.data.BitArray.unpack(packed).slice(0, frameCount * frameSize).map((bit) => (bit ? 1 : 0));
fs.writeFileSync(pixelsOut, Buffer.from(pixels.buffer, pixels.byteOffset, pixels.length));

const shared = one(seg.SharedFunctionalGroupsSequence);
const measures = one(shared.PixelMeasuresSequence);
const frames = [].concat(seg.PerFrameFunctionalGroupsSequence).map((group) => ({
  position: one(group.PlanePositionSequence).ImagePositionPatient.map(Number),
  segment: one(group.SegmentIdentificationSequence).ReferencedSegmentNumber,
  source: one(one(group.DerivationImageSequence).SourceImageSequence).ReferencedSOPInstanceUID,
}));
const segments = [].concat(seg.SegmentSequence).map((segment) => ({
  number: segment.SegmentNumber,
  label: segment.SegmentLabel,
  algorithmType: segment.SegmentAlgorithmType,
  rgb: dcmjs.data.Colors.dicomlab2RGB(segment.RecommendedDisplayCIELabValue).map((v) => Math.round(v * 255)),
  category: one(segment.SegmentedPropertyCategoryCodeSequence),
  type: one(segment.SegmentedPropertyTypeCodeSequence),
}));
console.log(JSON.stringify({
  sopClassUid: seg.SOPClassUID,
  segmentationType: seg.SegmentationType,
  rows: seg.Rows,
  columns: seg.Columns,
  frameCount,
  orientation: one(shared.PlaneOrientationSequence).ImageOrientationPatient.map(Number),
  pixelSpacing: measures.PixelSpacing.map(Number),
  sliceThickness: Number(measures.SliceThickness),
  frames,
  segments,
}));
