# tests/unit/tests.cmake — test_kernels_cpu once more against the CPU backend built without its
# AVX-512/AVX2 paths (lhost_kernels_cpu_portable), so the code a CPU without them runs is tested.
add_executable(test_kernels_cpu_portable ${CMAKE_CURRENT_LIST_DIR}/test_kernels_cpu.c)
target_link_libraries(test_kernels_cpu_portable PRIVATE lhost_kernels_cpu_portable PkgConfig::CHECK)
target_compile_definitions(test_kernels_cpu_portable PRIVATE ${LH_TEST_DEFS})
add_test(NAME test_kernels_cpu_portable COMMAND test_kernels_cpu_portable)
set_tests_properties(test_kernels_cpu_portable PROPERTIES LABELS unit TIMEOUT 300)
