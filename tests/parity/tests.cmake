# tests/parity/tests.cmake — step-for-step parity with PyTorch (test_parity.c): 200 training
# steps of the tutorial's CNN from PyTorch's initial weights against the committed reference of
# torch_parity.py, once per conv algorithm (gemm, direct, winograd; bf16-mixed where the CPU has
# it). Label slow (about 20 s each, one thread; gemm only, minutes, under the sanitizers); skipped
# (77) without Fashion-MNIST. Included from tests/CMakeLists.txt.
add_executable(test_parity ${CMAKE_CURRENT_LIST_DIR}/test_parity.c)
target_link_libraries(test_parity PRIVATE lhost_core PkgConfig::CHECK)
target_include_directories(test_parity PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit)
target_compile_definitions(test_parity PRIVATE ${LH_TEST_DEFS})
add_test(NAME test_parity COMMAND test_parity)
set_tests_properties(test_parity PROPERTIES LABELS slow TIMEOUT 1800 SKIP_RETURN_CODE 77
  ENVIRONMENT "LHOST_DATA_CACHE=0;LH_SANITIZED=${LH_E2E_SANITIZED}")
add_dependencies(test_parity lhost)
