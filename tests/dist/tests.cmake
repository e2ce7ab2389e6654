# tests/dist/tests.cmake — data-parallel training under mpirun (label mpi). Each script skips
# (exit 77, with a message) when mpirun is absent or lhost was built without MPI.
# Run: ctest --test-dir build -L mpi --output-on-failure
add_executable(lh_test_synth ${CMAKE_CURRENT_LIST_DIR}/synth.c)
target_include_directories(lh_test_synth PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit)
target_link_libraries(lh_test_synth PRIVATE PkgConfig::ZLIB)
add_executable(lh_test_ckpt_cmp ${CMAKE_CURRENT_LIST_DIR}/ckpt_cmp.c)
target_link_libraries(lh_test_ckpt_cmp PRIVATE lh_store m)

add_library(bare_fixture_stop_rank1 MODULE ${CMAKE_CURRENT_LIST_DIR}/stop_rank1.c)
set_target_properties(bare_fixture_stop_rank1 PROPERTIES PREFIX "" OUTPUT_NAME stop_rank1
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/dist_fixtures/stop_rank1)

# Under the sanitizers, LeakSanitizer reports Open MPI's own process-life allocations (its
# component frameworks, often through frames it cannot unwind) as leaks at every rank's exit:
# these runs keep AddressSanitizer's checks but not the leak scan. lhost's own code is
# leak-checked by every other test, the one-process path included.
set(LH_DIST_ASAN "")
if(LHOST_SANITIZE)
  set(LH_DIST_ASAN ";ASAN_OPTIONS=detect_leaks=0")
endif()

# The CUDA backend's NCCL path runs on the emulated module where it is built (tests/cuda_emu).
set(LH_DIST_EMU "")
if(TARGET lhost_cuda_emu)
  set(LH_DIST_EMU ";LH_CUDA_EMU=$<TARGET_FILE:lhost_cuda_emu>")
endif()

file(GLOB LH_DIST_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_*.sh)
foreach(src ${LH_DIST_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_test(NAME dist_${name} COMMAND bash ${src})
  set_tests_properties(dist_${name} PROPERTIES LABELS mpi TIMEOUT 600 SKIP_RETURN_CODE 77
    ENVIRONMENT "LHOST=$<TARGET_FILE:lhost>;LH_SYNTH=$<TARGET_FILE:lh_test_synth>;\
LH_CKPT_CMP=$<TARGET_FILE:lh_test_ckpt_cmp>;LHOST_DATA_CACHE=0;\
LH_DIST_FIXTURES=${CMAKE_CURRENT_BINARY_DIR}/dist_fixtures${LH_DIST_ASAN}${LH_DIST_EMU}")
endforeach()
