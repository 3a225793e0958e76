# ctest driver: install FocusNet into a scratch prefix and move the prefix elsewhere (as a package would); the moved
# command must still find its libraries and its default model. Then build a downstream ITK project that links
# FocusNet::ITKFilter alone against the moved prefix, run it, and check that it needs no DCMTK and no FocusNet IO.
foreach(variable BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR LUNG_SLICE)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "${variable} not set")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed (${result}): ${ARGN}\n${output}")
  endif()
  message(STATUS "${output}")
  set(output "${output}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/installed")
file(RENAME "${WORK_DIR}/installed" "${WORK_DIR}/moved")
set(prefix "${WORK_DIR}/moved")

# No --model and no $FOCUSNET_MODEL: the moved command finds the default model beside itself.
unset(ENV{FOCUSNET_MODEL})
run("${prefix}/bin/focusnet" segment "${LUNG_SLICE}" "${WORK_DIR}/label.nrrd" --threads 2)
if(NOT output MATCHES "label.nrrd: [0-9]+ Lung pixels")
  message(FATAL_ERROR "the moved focusnet did not segment with its default model:\n${output}")
endif()

# The installed Python module, from the moved prefix too: its libraries and its default model beside it.
if(PYTHON)
  set(ENV{PYTHONPATH} "${prefix}/${PYTHON_DIR}")
  # (newlines, not semicolons: run() passes its arguments on as a CMake list)
  run(${PYTHON} -c "import focusnet\nm = focusnet.Model()\nprint(m.path, m.parameter_count)")
  if(NOT output MATCHES "^${prefix}/share/focusnet/models/focusnet-lung.fnm 1207921")
    message(FATAL_ERROR "the moved Python module did not load its default model:\n${output}")
  endif()
endif()

run(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/build" -G "${GENERATOR}"
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/consumer")

# An ITK-only user links the core and ITKCommon: neither the executable nor anything it loads is DCMTK or FocusNet IO.
# (GDCM is no test of it: Debian's LibTorch loads GDCM through its own dependencies.)
run(readelf -d "${WORK_DIR}/build/consumer")
if(NOT output MATCHES "libfocusnet-core")
  message(FATAL_ERROR "the consumer does not link the FocusNet core:\n${output}")
endif()
if(output MATCHES "libdcm|libfocusnet-io|libfocusnet-jobs")
  message(FATAL_ERROR "the consumer of FocusNet::ITKFilter links more than the filter needs:\n${output}")
endif()
run(ldd "${WORK_DIR}/build/consumer")
if(output MATCHES "libdcm|libfocusnet-io|libfocusnet-jobs")
  message(FATAL_ERROR "the consumer of FocusNet::ITKFilter loads DCMTK or FocusNet IO:\n${output}")
endif()
