# bench/bench_bare.cmake — bench_bare resolves its bare functions in its own executable with
# dlopen(NULL), as the host does in a plugin .so, so they must be in the dynamic symbol table.
set_target_properties(bench_bare PROPERTIES ENABLE_EXPORTS ON)
