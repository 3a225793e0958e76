/*=========================================================================
 *  FocusNet for ITK and 3D Slicer
 *  Licensed under the Apache License, Version 2.0
 *=========================================================================*/
// Only for the clang fuzz build (scripts/fuzz.sh), included ahead of every file (-include): Debian's ITK 5.2 was
// configured with GCC, and its compiler detection refuses any other compiler. Read here once with __clang__ hidden
// (clang reports GCC 10's version through -fgnuc-version; 11 would give glibc's headers attributes clang lacks), it
// takes clang for GCC; its include guard then keeps ITK's own headers from reading it again.
#pragma push_macro("__clang__")
#undef __clang__
#include FOCUSNET_ITK_COMPILER_DETECTION
#pragma pop_macro("__clang__")
