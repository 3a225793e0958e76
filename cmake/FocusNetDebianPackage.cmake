# Debian packages of FocusNet with CPack's DEB generator (scripts/package.sh, or `cpack` in a build folder):
#   focusnet      (Runtime)      the commands, the libraries they load (private, in /usr/lib/<multiarch>/focusnet,
#                                found by RUNPATH), the Python module for Debian's python3, the
#                                Slicer CLI module, the default model, the README and the copyright file
#   focusnet-dev  (Development)  headers, the libraries' .so links and the CMake package for find_package(FocusNet)
# Installed under /usr. The runtime package's Depends are computed from its binaries by dpkg-shlibdeps; only what
# no binary links is named here (python3 for the module; the -dev packages that FocusNetConfig.cmake finds).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME focusnet)
set(CPACK_PACKAGE_VENDOR "The FocusNet developers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "") # each package's description starts with its own summary line
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL Runtime Development)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # focusnet_0.1.0-1_amd64.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(FOCUSNET_PACKAGE_MAINTAINER "FocusNet maintainers <maintainers@focusnet.example>" CACHE STRING
  "The Maintainer field of the Debian packages")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${FOCUSNET_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(FOCUSNET_PACKAGE_VERSION "${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME focusnet)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
# The Python module is built for one python3 (3.11 on Debian 12) and hands images over as numpy arrays.
if(TARGET focusnetPython)
  string(REPLACE "." ";" python_version "${FOCUSNET_PYTHON_VERSION}")
  list(GET python_version 0 python_major)
  list(GET python_version 1 python_minor)
  math(EXPR python_next "${python_minor} + 1")
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS
    "python3 (>= ${FOCUSNET_PYTHON_VERSION}), python3 (<< ${python_major}.${python_next}), python3-numpy")
endif()
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "attention-gated segmentation network for ITK, DICOM and 3D Slicer
FocusNet (Kaul, Manandhar and Pears, ISBI 2019), an attention-gated ResNet
with squeeze-and-excitation, run with LibTorch. The focusnet command segments
images, DICOM series and folders of series slice by slice into label maps
with the input's geometry and DICOM SEG, serves as a DICOM node, evaluates,
calibrates and draws; focusnet-train trains models with the paper's
protocol. With the focusnet Python module, the 3D Slicer command-line module
and the default lung CT model.")

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME focusnet-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "focusnet (= ${FOCUSNET_PACKAGE_VERSION}), libinsighttoolkit5-dev")
if(FOCUSNET_BUILD_VTK)
  string(APPEND CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS ", libvtk9-dev")
endif()
set(CPACK_DEBIAN_DEVELOPMENT_DESCRIPTION "development files of the FocusNet segmentation libraries
Headers, library links and the CMake package of FocusNet:
find_package(FocusNet) gives FocusNet::ITKFilter (the ITK image filter),
FocusNet::Core, FocusNet::IO, FocusNet::Jobs, FocusNet::Node and
FocusNet::VTK.")

# What Debian asks of every package's documentation folder: the copyright and a changelog.Debian.gz, compressed
# without a time stamp.
string(TIMESTAMP FOCUSNET_PACKAGE_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC) # $SOURCE_DATE_EPOCH when set
foreach(package focusnet focusnet-dev)
  set(changelog ${PROJECT_BINARY_DIR}/debian/${package}/changelog.Debian)
  file(WRITE ${changelog} "${package} (${FOCUSNET_PACKAGE_VERSION}) unstable; urgency=medium\n\n"
    "  * FocusNet ${PROJECT_VERSION}, packaged with CPack.\n\n"
    " -- ${FOCUSNET_PACKAGE_MAINTAINER}  ${FOCUSNET_PACKAGE_DATE}\n")
  execute_process(COMMAND gzip -9nf ${changelog} RESULT_VARIABLE gzipped)
  if(NOT gzipped EQUAL 0)
    message(FATAL_ERROR "gzip failed on ${changelog}")
  endif()
  set(component Runtime)
  if(package STREQUAL "focusnet-dev")
    set(component Development)
  endif()
  # Only in the packages (cpack installs each component), not in a plain cmake --install.
  install(FILES ${changelog}.gz cmake/debian/copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package}
    COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/focusnet COMPONENT Runtime)

include(CPack)
