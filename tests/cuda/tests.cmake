# tests/cuda/tests.cmake — the CUDA parity test skips (exit 77) without the module or a device,
# and the tests that load the module want it built first.
set_tests_properties(test_cuda_parity PROPERTIES SKIP_RETURN_CODE 77 LABELS "unit;cuda")
set_tests_properties(test_cuda_precision PROPERTIES LABELS "unit;cuda")
if(TARGET lhost_cuda)
  add_dependencies(test_cuda_parity lhost_cuda)
  add_dependencies(test_backend_select lhost_cuda)
  add_dependencies(test_cuda_precision lhost_cuda)
endif()

# Backend tables that break the versioning rules (fixture_backend.c), each a module exporting
# the CUDA module's entry symbol, loaded by test_backend_select through LHOST_CUDA_MODULE.
set(LH_BACKEND_FIXTURE_DIR ${CMAKE_BINARY_DIR}/tests/backend_fixtures)
foreach(kind NEWER OLDER SMALL NO_OPS UNVERSIONED)
  string(TOLOWER ${kind} lower)
  add_library(backend_fixture_${lower} MODULE ${CMAKE_CURRENT_LIST_DIR}/fixture_backend.c)
  target_include_directories(backend_fixture_${lower} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(backend_fixture_${lower} PRIVATE FIXTURE_${kind})
  set_target_properties(backend_fixture_${lower} PROPERTIES PREFIX "" OUTPUT_NAME ${lower}
    C_VISIBILITY_PRESET hidden LIBRARY_OUTPUT_DIRECTORY ${LH_BACKEND_FIXTURE_DIR})
  add_dependencies(test_backend_select backend_fixture_${lower})
endforeach()
target_compile_definitions(test_backend_select PRIVATE
  LH_BACKEND_FIXTURE_DIR="${LH_BACKEND_FIXTURE_DIR}")
