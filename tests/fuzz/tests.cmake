# tests/fuzz/tests.cmake — fuzz targets, one fuzz_<target>.c each with its seed corpus
# corpus_<target>/ and, where the input is text with a grammar, a dictionary <target>.dict.
#   normal build (gcc or clang): fuzz_<target> links the standalone driver fuzz_main.c, which
#     replays the corpus and then mutates it for a few seconds: ctest label `fuzz`.
#   -DLHOST_FUZZ=ON (clang; a build of its own, see the top CMakeLists.txt): fuzz_<target> is a
#     libFuzzer binary, everything compiled with -fsanitize=fuzzer-no-link,address,undefined;
#     the ctest replays the corpus and fuzzes for LH_FUZZ_CTEST_SECONDS. `make fuzz` builds them
#     all. How to run one for longer: tests/fuzz/README.md.
set(LH_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(LH_FUZZ_CTEST_SECONDS 10 CACHE STRING "Seconds each fuzz ctest mutates its corpus")
set(LH_FUZZ_TARGETS "" CACHE INTERNAL "")
if(LHOST_FUZZ)
  add_custom_target(fuzz)
endif()

# lh_fuzz_target(<target> [SOURCES extra.c...] [INCLUDES dir...]): fuzz_<target> from
# fuzz_<target>.c, its corpus corpus_<target>/ and dictionary <target>.dict (when present).
function(lh_fuzz_target t)
  cmake_parse_arguments(F "" "" "SOURCES;INCLUDES" ${ARGN})
  set(exe fuzz_${t})
  set(corpus ${LH_FUZZ_DIR}/corpus_${t})
  set(dict "")
  if(EXISTS ${LH_FUZZ_DIR}/${t}.dict)
    set(dict ${LH_FUZZ_DIR}/${t}.dict)
  endif()
  if(LHOST_FUZZ)
    add_executable(${exe} ${LH_FUZZ_DIR}/fuzz_${t}.c ${F_SOURCES})
    target_link_options(${exe} PRIVATE -fsanitize=fuzzer)
    add_dependencies(fuzz ${exe})
    set(work ${CMAKE_CURRENT_BINARY_DIR}/fuzz_work/${t})
    file(MAKE_DIRECTORY ${work})
    # New inputs go to the first (build-tree) directory; the committed corpus is only read.
    set(args -max_total_time=${LH_FUZZ_CTEST_SECONDS} -timeout=1 -rss_limit_mb=2048
      -print_final_stats=1 ${work} ${corpus})
    if(dict)
      list(PREPEND args -dict=${dict})
    endif()
    add_test(NAME ${exe} COMMAND ${exe} ${args})
  else()
    add_executable(${exe} ${LH_FUZZ_DIR}/fuzz_main.c ${LH_FUZZ_DIR}/fuzz_${t}.c ${F_SOURCES})
    target_compile_definitions(${exe} PRIVATE LH_FUZZ_CORPUS_DIR="${corpus}"
      LH_FUZZ_DICT="${dict}")
    add_test(NAME ${exe} COMMAND ${exe} -t ${LH_FUZZ_CTEST_SECONDS})
  endif()
  target_link_libraries(${exe} PRIVATE lhost_core)
  target_include_directories(${exe} PRIVATE ${F_INCLUDES})
  # Data targets must not fill the user's cache with decompressed copies.
  set_tests_properties(${exe} PROPERTIES LABELS fuzz TIMEOUT 300 ENVIRONMENT "LHOST_DATA_CACHE=0")
  set(LH_FUZZ_TARGETS ${LH_FUZZ_TARGETS} ${t} CACHE INTERNAL "")
endfunction()

lh_fuzz_target(bare_parse INCLUDES ${LH_BARE_INC})
lh_fuzz_target(idx)
lh_fuzz_target(ckpt)
lh_fuzz_target(config)
lh_fuzz_target(params)
lh_fuzz_target(ckpt_name SOURCES ${PROJECT_SOURCE_DIR}/plugins/model_checkpoint/ckpt_name.c
  INCLUDES ${PROJECT_SOURCE_DIR}/plugins/model_checkpoint)
lh_fuzz_target(plugin_desc)
