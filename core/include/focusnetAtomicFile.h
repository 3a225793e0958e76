/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
#ifndef focusnetAtomicFile_h
#define focusnetAtomicFile_h

#include <functional>
#include <string>

namespace focusnet
{

/** Writes a file the all-or-nothing way: write(temporaryPath) runs against a hidden temporary name
 * in the destination folder that keeps the destination's extension (so ITK picks the same ImageIO),
 * then the temporary file is renamed onto fileName. If write throws, the temporary file is removed and
 * the exception propagates: a failure never leaves a half-written or stale file under fileName. A disk with less
 * than 1 MiB left before or after writing is taken as full (most image writers do not report a write cut short):
 * focusnet::Error, and nothing is kept. */
void
WriteAtomically(const std::string & fileName, const std::function<void(const std::string & temporaryPath)> & write);

/** Removes the hidden temporary files (".NAME.partial-PID-N.EXT") that WriteAtomically leaves in folder when the
 * process is killed while writing. For a folder only this process writes to (a batch's series, a training run). */
void
RemovePartialFiles(const std::string & folder);

/** Writes text to fileName with WriteAtomically; throws focusnet::Error naming the file when it cannot. */
void
WriteTextAtomically(const std::string & fileName, const std::string & text);

/** Throws focusnet::Error naming fileName when it cannot be an output: its folder does not exist or is not writable, it
 * is the input file itself, or it exists and overwrite is false (nothing the user has is replaced by surprise). */
void
CheckOutputFile(const std::string & fileName, bool overwrite, const std::string & input = {});

/** The extension of a file name including compound ones: "a/b.nii.gz" -> ".nii.gz", "c.nrrd" -> ".nrrd". */
std::string
FullExtension(const std::string & fileName);

} // namespace focusnet

#endif
