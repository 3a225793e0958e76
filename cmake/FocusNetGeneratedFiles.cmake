# The committed files made from the library's description of the options (core/include/focusnetOptions.h) by
# focusnet-options (cli/), each with how it is made:
#   cmake -DMODE=write|check -DOPTIONS=focusnet-options -DSOURCE_DIR=repository -P FocusNetGeneratedFiles.cmake
# write: writes them into the source tree (the focusnet-regenerate target); check: fails naming each file that
# differs from what focusnet-options writes now (the test FocusNetGeneratedFilesAreCurrent).
set(generated # mode|from|to
  "fill|slicer_extension/FocusNetSegmentation/FocusNetSegmentation.xml.in|slicer_extension/FocusNetSegmentation/FocusNetSegmentation.xml"
  "fill|wrapping/focusnet.pyi.in|wrapping/focusnet.pyi"
  "readme|README.md|README.md")
set(stale "")
foreach(entry IN LISTS generated)
  string(REPLACE "|" ";" fields "${entry}")
  list(GET fields 0 mode)
  list(GET fields 1 from)
  list(GET fields 2 to)
  execute_process(COMMAND ${OPTIONS} ${mode} ${SOURCE_DIR}/${from}
    OUTPUT_VARIABLE made ERROR_VARIABLE error RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "focusnet-options ${mode} ${from} failed: ${error}")
  endif()
  file(READ ${SOURCE_DIR}/${to} committed)
  if(MODE STREQUAL "write")
    if(NOT made STREQUAL committed)
      file(WRITE ${SOURCE_DIR}/${to} "${made}")
      message(STATUS "written: ${to}")
    endif()
  elseif(NOT made STREQUAL committed)
    get_filename_component(name ${to} NAME)
    set(fresh ${CMAKE_CURRENT_BINARY_DIR}/as-made-${name})
    file(WRITE ${fresh} "${made}")
    execute_process(COMMAND diff -u ${SOURCE_DIR}/${to} ${fresh}) # shows the difference in the test's log
    list(APPEND stale ${to})
  endif()
endforeach()
if(stale)
  message(FATAL_ERROR "not as focusnet-options makes them from core/include/focusnetOptions.h: ${stale} "
    "(run: cmake --build build --target focusnet-regenerate, and commit)")
endif()
