# bench/dispatch.cmake — bench_dispatch copies the `noop` fixture plugin 100 times.
target_compile_definitions(bench_dispatch PRIVATE
  LH_FIXTURE_PLUGIN_DIR="${PROJECT_BINARY_DIR}/tests/plugins")
add_dependencies(bench_dispatch fixture_noop)
