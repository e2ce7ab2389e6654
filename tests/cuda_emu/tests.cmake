# tests/cuda_emu/ — the CUDA backend's own sources (kernels/cuda/*.cu) compiled as C++ against a
# host-CPU emulation of the CUDA runtime, cuBLAS and NCCL (cuda_runtime.h, cublas_v2.h, nccl.h,
# emu.cc, nccl_emu.cc here),
# into liblhost_cuda_emu.so: a stand-in for liblhost_cuda.so that needs neither nvcc nor a GPU.
# test_cuda_parity_emu runs the CUDA parity test against it (LHOST_CUDA_MODULE), so the kernels'
# indexing, cuBLAS arguments and pointer discipline are checked on every machine; the real module
# is still checked by test_cuda_parity where a GPU exists (bench/gpu/run.sh).
file(GLOB LH_CUDA_EMU_KERNELS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/kernels/cuda/*.cu)
set_source_files_properties(${LH_CUDA_EMU_KERNELS} PROPERTIES LANGUAGE CXX)
add_library(lhost_cuda_emu MODULE ${LH_CUDA_EMU_KERNELS} ${CMAKE_CURRENT_LIST_DIR}/emu.cc
  ${CMAKE_CURRENT_LIST_DIR}/nccl_emu.cc)
# comm.cu's NCCL calls go to the emulated NCCL (nccl.h, nccl_emu.cc), which the ranks of a job on
# this machine share through POSIX shared memory.
target_compile_definitions(lhost_cuda_emu PRIVATE LH_HAVE_NCCL)
# conv2d's scratch cap at 256 KiB instead of 256 MiB: the tests' convolutions (the tutorial's
# second layer from a batch of 2 on) run in several chunks of images, as only huge batches do
# on a GPU.
target_compile_definitions(lhost_cuda_emu PRIVATE LH_CONV_SCRATCH_MAX=262144)
target_link_libraries(lhost_cuda_emu PRIVATE rt)
# The emulation's headers stand in for CUDA's: they come first on the include path.
target_include_directories(lhost_cuda_emu BEFORE PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_include_directories(lhost_cuda_emu PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_features(lhost_cuda_emu PRIVATE cxx_std_17)
set_target_properties(lhost_cuda_emu PROPERTIES
  CXX_VISIBILITY_PRESET hidden
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/cuda_emu)

add_test(NAME test_cuda_parity_emu COMMAND test_cuda_parity)
set_tests_properties(test_cuda_parity_emu PROPERTIES LABELS "unit;cuda" TIMEOUT 600
  ENVIRONMENT "LHOST_CUDA_MODULE=$<TARGET_FILE:lhost_cuda_emu>;LHOST_DATA_CACHE=0")
add_dependencies(test_cuda_parity lhost_cuda_emu)

# Device-independent checkpoints: train with --trainer.device=cuda (here: the emulation) and on
# the CPU, validate each checkpoint on both.
set_tests_properties(test_device_ckpt PROPERTIES SKIP_RETURN_CODE 77 LABELS "unit;cuda")
add_test(NAME test_device_ckpt_emu COMMAND test_device_ckpt)
set_tests_properties(test_device_ckpt_emu PROPERTIES LABELS "unit;cuda" TIMEOUT 900
  ENVIRONMENT "LHOST_CUDA_MODULE=$<TARGET_FILE:lhost_cuda_emu>;LHOST_DATA_CACHE=0")
add_dependencies(test_device_ckpt lhost_cuda_emu lhost)

# The GPU slot's script, rehearsed on the emulation with this build's binaries (kept out of the
# sanitizer pass by its label: that build has no CUDA backend).
set_tests_properties(e2e_test_gpu_rehearsal PROPERTIES LABELS "slow;rehearsal"
  SKIP_RETURN_CODE 77)

# Gradient norms and clipping against PyTorch on the CUDA backend's code (the emulation).
add_test(NAME test_grad_clip_emu COMMAND test_grad_clip)
set_tests_properties(test_grad_clip_emu PROPERTIES LABELS "unit;cuda" TIMEOUT 300
  ENVIRONMENT "LHOST_CUDA_MODULE=$<TARGET_FILE:lhost_cuda_emu>")
add_dependencies(test_grad_clip lhost_cuda_emu)

# The ABI 1.1 hooks and tensor services through the CUDA backend's code (on the emulation).
add_test(NAME test_hooks_emu COMMAND test_hooks)
set_tests_properties(test_hooks_emu PROPERTIES LABELS "unit;cuda" TIMEOUT 600
  ENVIRONMENT "LHOST_CUDA_MODULE=$<TARGET_FILE:lhost_cuda_emu>;LHOST_DATA_CACHE=0;LH_TEST_DEVICE=cuda")
add_dependencies(test_hooks lhost_cuda_emu lhost)

# The reference callbacks (grad_norm, lr_monitor, ema, swa, timer, prediction_writer) in runs
# on the CUDA backend's code (the emulation).
add_test(NAME test_ref_callbacks_run_emu COMMAND test_ref_callbacks_run)
set_tests_properties(test_ref_callbacks_run_emu PROPERTIES LABELS "unit;cuda" TIMEOUT 900
  ENVIRONMENT "LHOST_CUDA_MODULE=$<TARGET_FILE:lhost_cuda_emu>;LHOST_DATA_CACHE=0;LH_TEST_DEVICE=cuda")
add_dependencies(test_ref_callbacks_run lhost_cuda_emu lhost)

# The loop's options (accumulation, limits, validation schedule, stops) on the CUDA backend's
# code (the emulation).
add_test(NAME test_loop_limits_emu COMMAND test_loop_limits)
set_tests_properties(test_loop_limits_emu PROPERTIES LABELS "unit;cuda" TIMEOUT 600
  ENVIRONMENT
  "LHOST_CUDA_MODULE=$<TARGET_FILE:lhost_cuda_emu>;LHOST_DATA_CACHE=0;LH_TEST_DEVICE=cuda")
add_dependencies(test_loop_limits lhost_cuda_emu lhost)
# The model's buffers and update_bn against PyTorch on the CUDA backend's code (the emulation).
add_test(NAME test_update_bn_emu COMMAND test_update_bn)
set_tests_properties(test_update_bn_emu PROPERTIES LABELS "unit;cuda" TIMEOUT 300
  ENVIRONMENT "LHOST_CUDA_MODULE=$<TARGET_FILE:lhost_cuda_emu>")
add_dependencies(test_update_bn lhost_cuda_emu)

# The CUDA backend's precisions (bf16-mixed, TF32) and its fused conv block, op by op and in
# `lhost train` runs, on the emulation (tests/unit/test_cuda_precision.c).
add_test(NAME test_cuda_precision_emu COMMAND test_cuda_precision)
set_tests_properties(test_cuda_precision_emu PROPERTIES LABELS "unit;cuda" TIMEOUT 900
  ENVIRONMENT "LHOST_CUDA_MODULE=$<TARGET_FILE:lhost_cuda_emu>;LHOST_DATA_CACHE=0")
add_dependencies(test_cuda_precision lhost_cuda_emu lhost)
