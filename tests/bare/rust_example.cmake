# tests/bare/rust_example.cmake — the bare_rust_example test: build examples/bare_rust with
# cargo (offline, no dependencies), copy the cdylib as stop_at_rs.so, and run test_bare's "rust"
# case on it. Run with: cmake -DCARGO=... -DSRC=... -DOUT=... -DTEST=... -P rust_example.cmake
execute_process(COMMAND ${CARGO} build --offline --locked --release
                        --manifest-path ${SRC}/Cargo.toml --target-dir ${OUT}/target
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cargo build of ${SRC} failed (${rc})")
endif()
file(COPY_FILE ${OUT}/target/release/libstop_at_rs.so ${OUT}/stop_at_rs.so ONLY_IF_DIFFERENT)
execute_process(COMMAND ${CMAKE_COMMAND} -E env LH_BARE_RUST_SO=${OUT}/stop_at_rs.so
                        CK_RUN_CASE=rust ${TEST}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "test_bare on the Rust example failed (${rc})")
endif()
