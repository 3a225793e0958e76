# focusnet_add_library(<Name> SOURCES ... HEADERS ...): one layer's library, the target FocusNet<Name> exported as
# FocusNet::<Name>, built as libfocusnet-<name>, with the folder's include/ public and, when FOCUSNET_INSTALL_DEVELOPMENT
# is on, its headers installed.
# Each folder then links what its layer depends on, and nothing more.
# Where the libraries go (relative to the prefix) and whether headers and CMake files go with them; a project that
# installs otherwise (the Slicer extension) sets these before including this file.
if(NOT DEFINED FOCUSNET_INSTALL_DEVELOPMENT)
  set(FOCUSNET_INSTALL_DEVELOPMENT ON)
endif()
if(NOT DEFINED FOCUSNET_INSTALL_LIB_DIR)
  # FocusNet's own folder: the libraries are private to its programs and CMake package (no stable ABI across
  # versions), which load them by RUNPATH ($ORIGIN/...), as Debian asks of private libraries (lib/<package>).
  # In the multiarch folder (lib/x86_64-linux-gnu/focusnet), which is not ldconfig's: no ldconfig call is needed.
  if(CMAKE_LIBRARY_ARCHITECTURE)
    set(FOCUSNET_INSTALL_LIB_DIR lib/${CMAKE_LIBRARY_ARCHITECTURE}/focusnet)
  else()
    set(FOCUSNET_INSTALL_LIB_DIR ${CMAKE_INSTALL_LIBDIR}/focusnet)
  endif()
endif()
function(focusnet_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;HEADERS" ${ARGN})
  string(TOLOWER "${name}" file_name)
  set(target FocusNet${name})
  add_library(${target} ${ARG_SOURCES})
  add_library(FocusNet::${name} ALIAS ${target})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${FOCUSNET_INSTALL_INCLUDE_DIR}>)
  target_compile_features(${target} PUBLIC cxx_std_17)
  set_target_properties(${target} PROPERTIES
    EXPORT_NAME ${name}
    OUTPUT_NAME focusnet-${file_name}
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  if(FOCUSNET_INSTALL_DEVELOPMENT)
    # The shared library is what programs load (the Runtime component, Debian's focusnet package); its .so link,
    # static archive and headers are for building against it (Development: focusnet-dev).
    install(TARGETS ${target} EXPORT FocusNetTargets
      LIBRARY DESTINATION ${FOCUSNET_INSTALL_LIB_DIR} COMPONENT Runtime NAMELINK_COMPONENT Development
      ARCHIVE DESTINATION ${FOCUSNET_INSTALL_LIB_DIR} COMPONENT Development
      RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime)
    install(FILES ${ARG_HEADERS} DESTINATION ${FOCUSNET_INSTALL_INCLUDE_DIR} COMPONENT Development)
  elseif(BUILD_SHARED_LIBS) # what the executables load, nothing to build against
    install(TARGETS ${target} LIBRARY DESTINATION ${FOCUSNET_INSTALL_LIB_DIR} NAMELINK_SKIP)
  endif()
endfunction()
