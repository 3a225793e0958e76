# The repository root as the 3D Slicer extension FocusNet (included by the top-level CMakeLists.txt when Slicer_DIR is
# given, right after project(FocusNet), as in the extensions Slicer's ExtensionWizard makes). It describes the
# extension for the Extensions Index, loads Slicer's CMake, keeps only the layers the modules need (core, itk_module,
# io, jobs and slicer_extension) and sets the install layout of a Slicer extension package:
#
#   lib/Slicer-X.Y/cli-modules/FocusNetSegmentation, FocusNetSegmentation.xml   the CLI module and its description
#   lib/Slicer-X.Y/qt-scripted-modules/FocusNet.py, FocusNetLib/, Resources/     the scripted module
#   lib/Slicer-X.Y/FocusNet/libfocusnet-*.so, libtorch_cpu.so, ...                 what the CLI loads
#   share/Slicer-X.Y/FocusNet/models/focusnet-lung.fnm                             the default model
#   share/Slicer-X.Y/FocusNet.s4ext                                                the description (Slicer's CPack)
#
# Slicer's CMake files need CMake 3.28 or newer.

# One homepage, the repository's web address, from which the icon's and the screenshot's addresses are made:
# FOCUSNET_EXTENSION_HOMEPAGE, else the checkout's origin (the clone the extension factory builds).
if(NOT FOCUSNET_EXTENSION_HOMEPAGE)
  execute_process(COMMAND git remote get-url origin WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    OUTPUT_VARIABLE origin OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  string(REGEX REPLACE "^git@([^:]+):" "https://\\1/" origin "${origin}")
  string(REGEX REPLACE "\\.git$" "" origin "${origin}")
  if(NOT origin MATCHES "^https://")
    message(FATAL_ERROR "FocusNet extension: set -DFOCUSNET_EXTENSION_HOMEPAGE=https://... (the repository's web "
      "address); the checkout has no https or git@ origin to take it from")
  endif()
  set(FOCUSNET_EXTENSION_HOMEPAGE "${origin}" CACHE STRING "The Slicer extension's homepage (its repository)" FORCE)
endif()
set(FOCUSNET_EXTENSION_BRANCH "main" CACHE STRING "The branch the Extensions Index builds, and the icon's and screenshot's")
set(EXTENSION_HOMEPAGE "${FOCUSNET_EXTENSION_HOMEPAGE}")
set(EXTENSION_CATEGORY "Segmentation")
set(EXTENSION_CONTRIBUTORS "FocusNet developers (FocusNet for ITK and 3D Slicer)")
set(EXTENSION_DESCRIPTION "FocusNet (Kaul, Manandhar, Pears, ISBI 2019) segmentation: an attention-gated ResNet with \
squeeze-and-excitation blocks run slice by slice on a volume, giving a segmentation named, coloured and coded from the \
model file. Comes with a lung CT model.")
set(EXTENSION_ICONURL "${FOCUSNET_EXTENSION_HOMEPAGE}/raw/${FOCUSNET_EXTENSION_BRANCH}/slicer_extension/FocusNet/Resources/Icons/FocusNet.png")
set(EXTENSION_SCREENSHOTURLS "${FOCUSNET_EXTENSION_HOMEPAGE}/raw/${FOCUSNET_EXTENSION_BRANCH}/docs/pictures/lung-slice-snapshot.png")
set(EXTENSION_DEPENDS "NA")
set(EXTENSION_LICENSE_FILE "${CMAKE_CURRENT_SOURCE_DIR}/LICENSE")
set(EXTENSION_README_FILE "${CMAKE_CURRENT_SOURCE_DIR}/README.md")

# The Extensions Index's catalog entry (its current JSON schema), to submit as FocusNet.json.
configure_file(slicer_extension/FocusNet.json.in ${CMAKE_CURRENT_BINARY_DIR}/FocusNet.json @ONLY)

find_package(Slicer REQUIRED)
include(${Slicer_USE_FILE})

if(POLICY CMP0177)
  cmake_policy(SET CMP0177 NEW) # Slicer's install folders start with "./"; ours are normalised
endif()
set(FOCUSNET_SLICER_EXTENSION ON)
# Only what the extension's modules need (normal variables: the options below keep them, CMP0077).
foreach(part TRAINING TESTING VTK PYTHON BENCHMARKS EXAMPLES)
  set(FOCUSNET_BUILD_${part} OFF)
endforeach()
set(FOCUSNET_BUILD_APPS OFF)
set(FOCUSNET_BUILD_SLICER_EXTENSION ON)

set(FOCUSNET_INSTALL_DEVELOPMENT OFF)
# A folder of its own: Slicer puts an extension's lib/Slicer-X.Y on the library path of everything it runs, and the
# libraries the CLI needs (another LibTorch among them) are for the CLI alone.
set(FOCUSNET_INSTALL_LIB_DIR ${Slicer_INSTALL_THIRDPARTY_LIB_DIR}/${EXTENSION_NAME})
set(FOCUSNET_INSTALL_CLI_DIR ${Slicer_INSTALL_CLIMODULES_BIN_DIR})
set(FOCUSNET_INSTALL_MODEL_DIR ${Slicer_INSTALL_SHARE_DIR}/${EXTENSION_NAME}/models)

# Linked with DT_RPATH rather than DT_RUNPATH: the loader then also searches the CLI's $ORIGIN-relative path for what
# the bundled libraries load (they have no search path of their own), and searches it before LD_LIBRARY_PATH, which
# Slicer's launcher fills with Slicer's own libraries.
add_link_options(LINKER:--disable-new-dtags)
