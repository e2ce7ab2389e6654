# tests/cuda/tests.cmake — the CUDA parity test skips (exit 77) without the module or a device,
# and the tests that load the module want it built first.
set_tests_properties(test_cuda_parity PROPERTIES SKIP_RETURN_CODE 77 LABELS "unit;cuda")
if(TARGET lhost_cuda)
  add_dependencies(test_cuda_parity lhost_cuda)
  add_dependencies(test_backend_select lhost_cuda)
endif()
