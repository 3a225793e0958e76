# Included at install time (install(CODE) in slicer_extension/FocusNetSegmentation): installs into
# FOCUSNET_BUNDLE_DESTINATION every shared library that FOCUSNET_BUNDLE_EXECUTABLES load, directly or not, except
#  - the base system's, which every Linux machine that runs the host application's GUI has and must keep its own:
#    glibc's, the GCC runtime's C++ libraries, and the interfaces to the display and video drivers (OpenGL through
#    glvnd, X11 and xcb, DRM, VA-API, VDPAU), which have to match the machine's drivers;
#  - the host application's: the libraries FOCUSNET_BUNDLE_PROVIDED and everything that they load;
#  - the project's own, found below FOCUSNET_BUNDLE_OWN_DIR (installed by their install(TARGETS) rules).
# Each is installed under the name the loader asks for (its SONAME), as one file: no symlinks, no development names,
# with the search path $ORIGIN (as DT_RPATH, searched before LD_LIBRARY_PATH, set by patchelf: CMake can only change a
# search path a file already has), so that what it loads is found beside it. A library that cannot be found stops
# the install with its name.
cmake_minimum_required(VERSION 3.21) # file(GET_RUNTIME_DEPENDENCIES), file(REAL_PATH)
find_program(FOCUSNET_PATCHELF patchelf)
if(NOT FOCUSNET_PATCHELF)
  message(FATAL_ERROR "FocusNet package: patchelf not found (Debian package patchelf)")
endif()

set(base_system_libraries
  "^ld-linux" "^lib(c|m|mvec|dl|pthread|rt|resolv|util)\\.so"
  "^libstdc\\+\\+\\.so" "^libgcc_s\\.so"
  "^lib(GL|GLX|GLdispatch|OpenGL|EGL)\\.so" "^libX11(-xcb)?\\.so" "^libxcb" "^libX(au|dmcp|ext|render|fixes)\\.so"
  "^libdrm\\.so" "^libva(-drm|-x11)?\\.so" "^libvdpau\\.so" "^libmfx\\.so")

function(focusnet_real_paths out)
  set(real_paths "")
  foreach(file IN LISTS ARGN)
    file(REAL_PATH "${file}" real)
    list(APPEND real_paths "${real}")
  endforeach()
  set(${out} "${real_paths}" PARENT_SCOPE)
endfunction()

file(GET_RUNTIME_DEPENDENCIES
  LIBRARIES ${FOCUSNET_BUNDLE_PROVIDED}
  RESOLVED_DEPENDENCIES_VAR provided
  UNRESOLVED_DEPENDENCIES_VAR provided_unresolved
  PRE_EXCLUDE_REGEXES ${base_system_libraries})
focusnet_real_paths(provided ${FOCUSNET_BUNDLE_PROVIDED} ${provided})

file(GET_RUNTIME_DEPENDENCIES
  EXECUTABLES ${FOCUSNET_BUNDLE_EXECUTABLES}
  RESOLVED_DEPENDENCIES_VAR needed
  UNRESOLVED_DEPENDENCIES_VAR unresolved
  PRE_EXCLUDE_REGEXES ${base_system_libraries})
if(unresolved)
  message(FATAL_ERROR "FocusNet package: ${FOCUSNET_BUNDLE_EXECUTABLES} needs libraries that are not found: ${unresolved}")
endif()

file(REAL_PATH "${FOCUSNET_BUNDLE_OWN_DIR}" own_dir)
set(bundled 0)
foreach(library IN LISTS needed)
  file(REAL_PATH "${library}" real)
  string(FIND "${real}" "${own_dir}/" own)
  if(real IN_LIST provided OR own EQUAL 0)
    continue()
  endif()
  get_filename_component(name "${library}" NAME)
  file(INSTALL DESTINATION "${FOCUSNET_BUNDLE_DESTINATION}" TYPE FILE RENAME "${name}" FILES "${real}" PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  execute_process(COMMAND "${FOCUSNET_PATCHELF}" --force-rpath --set-rpath "$ORIGIN"
    "$ENV{DESTDIR}${FOCUSNET_BUNDLE_DESTINATION}/${name}" RESULT_VARIABLE failed)
  if(failed)
    message(FATAL_ERROR "FocusNet package: patchelf could not set the search path of ${name}")
  endif()
  math(EXPR bundled "${bundled} + 1")
endforeach()
message(STATUS "FocusNet package: ${bundled} libraries bundled into ${FOCUSNET_BUNDLE_DESTINATION}")
