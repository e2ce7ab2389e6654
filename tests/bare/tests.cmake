# tests/bare/tests.cmake — bare (SDK-free) fixture libraries, built as plain shared objects
# WITHOUT the SDK include path (exactly what a user of another language produces), each into
# ${CMAKE_CURRENT_BINARY_DIR}/bare/<case>/<case>.so, and the definitions test_bare needs.
#   stop_at         callback: stop_when(double val_acc, int64 epoch), exported signature string
#   top1            metric: top-1 accuracy of a batch
#   calls           every argument type, and a hook returning a scripted code
#   sidecar         no exported string: the declarations are in sidecar.lhost next to the .so
#   missing_symbol  declares a function it does not export
#   malformed       its signature string does not parse
set(LH_BARE_FIXTURE_DIR ${CMAKE_CURRENT_BINARY_DIR}/bare)
set(LH_BARE_CASES stop_at top1 calls sidecar missing_symbol malformed)
foreach(case ${LH_BARE_CASES})
  add_library(bare_fixture_${case} MODULE ${CMAKE_CURRENT_LIST_DIR}/${case}.c)
  set_target_properties(bare_fixture_${case} PROPERTIES PREFIX "" OUTPUT_NAME ${case}
    LIBRARY_OUTPUT_DIRECTORY ${LH_BARE_FIXTURE_DIR}/${case})
  if(TARGET test_bare)
    add_dependencies(test_bare bare_fixture_${case})
  endif()
endforeach()
configure_file(${CMAKE_CURRENT_LIST_DIR}/sidecar.lhost ${LH_BARE_FIXTURE_DIR}/sidecar/sidecar.lhost
  COPYONLY)
foreach(t test_bare test_bare_train)
  if(TARGET ${t})
    target_compile_definitions(${t} PRIVATE LH_BARE_FIXTURE_DIR="${LH_BARE_FIXTURE_DIR}")
  endif()
endforeach()

# The Rust example (examples/bare_rust) built with cargo and driven by test_bare, when cargo is
# installed.
find_program(LH_CARGO cargo)
if(LH_CARGO AND TARGET test_bare)
  add_test(NAME bare_rust_example COMMAND ${CMAKE_COMMAND} -DCARGO=${LH_CARGO}
    -DSRC=${PROJECT_SOURCE_DIR}/examples/bare_rust -DOUT=${LH_BARE_FIXTURE_DIR}/rust
    -DTEST=$<TARGET_FILE:test_bare> -P ${CMAKE_CURRENT_LIST_DIR}/rust_example.cmake)
  set_tests_properties(bare_rust_example PROPERTIES LABELS rust TIMEOUT 600)
endif()
