# tests/layering/probe.cmake — build one layering probe and judge the result (see tests.cmake).
# cmake -DBUILD=<tree> -DTARGET=<probe target> -DHEADER=<header> -DEXPECT=ALLOWED|FORBIDDEN -P
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD} --target ${TARGET}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
string(REPLACE "." "\\." header_re "${HEADER}")
if(EXPECT STREQUAL "FORBIDDEN")
  if(rc EQUAL 0)
    message(FATAL_ERROR "layering: ${TARGET} compiled: ${HEADER} is reachable across a "
                        "forbidden edge")
  endif()
  if(NOT out MATCHES "${header_re}: No such file or directory")
    message(FATAL_ERROR "layering: ${TARGET} failed, but not because ${HEADER} was not "
                        "found:\n${out}")
  endif()
  message(STATUS "layering: ${HEADER} is out of reach, as it should be")
else()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "layering: ${TARGET} should compile (an allowed edge):\n${out}")
  endif()
  message(STATUS "layering: ${HEADER} is reachable, as it should be")
endif()
