# tests/fuzz/tests.cmake — fuzz targets.
#   fuzz_bare_parse            standalone driver (fuzz_main.c): seed corpus + deterministic random
#                              mutations for 20 s; a ctest labelled fuzz
#   fuzz_bare_parse_libfuzzer  a real libFuzzer binary (-fsanitize=fuzzer,address), built when the
#                              C compiler is clang (on request: make fuzz_bare_parse_libfuzzer), or
#                              by default with -DLHOST_FUZZ=ON when clang is installed; not a ctest
#                              (see fuzz_bare_parse.c for how to run it)
option(LHOST_FUZZ "Build libFuzzer targets with clang (needs clang)" OFF)
set(LH_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(LH_FUZZ_PARSER_SOURCES ${PROJECT_SOURCE_DIR}/host/plugin/bare/bare_parse.c
  ${PROJECT_SOURCE_DIR}/host/util/error.c)

add_executable(fuzz_bare_parse ${LH_FUZZ_DIR}/fuzz_main.c ${LH_FUZZ_DIR}/fuzz_bare_parse.c)
target_link_libraries(fuzz_bare_parse PRIVATE lhost_core)
target_include_directories(fuzz_bare_parse PRIVATE ${LH_BARE_INC})
target_compile_definitions(fuzz_bare_parse PRIVATE LH_FUZZ_CORPUS_DIR="${LH_FUZZ_DIR}/corpus_bare")
add_test(NAME fuzz_bare_parse COMMAND fuzz_bare_parse -t 20)
set_tests_properties(fuzz_bare_parse PROPERTIES LABELS fuzz TIMEOUT 120)

set(LH_FUZZ_FLAGS -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -std=c11
  -I${LH_BARE_INC} -I${PROJECT_SOURCE_DIR}/host/plugin -I${PROJECT_SOURCE_DIR}/host/util
  -I${PROJECT_SOURCE_DIR}/sdk/include)
if(CMAKE_C_COMPILER_ID MATCHES "Clang")
  add_executable(fuzz_bare_parse_libfuzzer ${LH_FUZZ_DIR}/fuzz_bare_parse.c ${LH_FUZZ_PARSER_SOURCES})
  target_include_directories(fuzz_bare_parse_libfuzzer PRIVATE ${LH_BARE_INC}
    ${PROJECT_SOURCE_DIR}/host/plugin ${PROJECT_SOURCE_DIR}/host/util
    ${PROJECT_SOURCE_DIR}/sdk/include)
  target_compile_options(fuzz_bare_parse_libfuzzer PRIVATE -g -O1 -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_bare_parse_libfuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
  if(NOT LHOST_FUZZ)
    set_target_properties(fuzz_bare_parse_libfuzzer PROPERTIES EXCLUDE_FROM_ALL ON)
  endif()
elseif(LHOST_FUZZ)
  find_program(LH_CLANG NAMES clang clang-16 clang-15 clang-14)
  if(NOT LH_CLANG)
    message(FATAL_ERROR "lhost: LHOST_FUZZ=ON needs clang (Debian package: clang)")
  endif()
  add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/fuzz_bare_parse_libfuzzer
    COMMAND ${LH_CLANG} ${LH_FUZZ_FLAGS} ${LH_FUZZ_DIR}/fuzz_bare_parse.c ${LH_FUZZ_PARSER_SOURCES}
            -o ${CMAKE_CURRENT_BINARY_DIR}/fuzz_bare_parse_libfuzzer
    DEPENDS ${LH_FUZZ_DIR}/fuzz_bare_parse.c ${LH_FUZZ_PARSER_SOURCES}
            ${LH_BARE_INC}/bare.h ${PROJECT_SOURCE_DIR}/host/util/error.h
    COMMENT "clang libFuzzer build of fuzz_bare_parse")
  add_custom_target(fuzz_bare_parse_libfuzzer ALL
    DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/fuzz_bare_parse_libfuzzer)
endif()
