# tests/layering/tests.cmake — the host's rooms are layered by the build: a room sees only the
# headers of the rooms it links (host/CMakeLists.txt). Each probe is a one-line source that
# includes one header, compiled with one room's usage requirements, as a file of that room
# would be. A forbidden probe must fail to compile *because that header is not found*; an
# allowed probe must compile, so the forbidden ones cannot pass for some other reason.
# Run: ctest --test-dir build -L layering
set(LH_LAYERING_SRC ${CMAKE_CURRENT_BINARY_DIR}/layering)

# lh_layering_probe(<room target> <header> ALLOWED|FORBIDDEN)
function(lh_layering_probe room header expect)
  string(REGEX REPLACE "[^A-Za-z0-9]" "_" stem "${room}_includes_${header}")
  set(src ${LH_LAYERING_SRC}/${stem}.c)
  file(WRITE ${src} "/* ${room} including ${header}: expected ${expect} */\n"
                    "#include \"${header}\"\nint lh_probe_${stem};\n")
  add_library(probe_${stem} OBJECT EXCLUDE_FROM_ALL ${src})
  target_link_libraries(probe_${stem} PRIVATE ${room})
  add_test(NAME layering_${stem}
    COMMAND ${CMAKE_COMMAND} -DBUILD=${CMAKE_BINARY_DIR} -DTARGET=probe_${stem}
            -DHEADER=${header} -DEXPECT=${expect} -P ${CMAKE_CURRENT_LIST_DIR}/probe.cmake)
  # The probes build in this tree: one at a time.
  set_tests_properties(layering_${stem} PROPERTIES LABELS layering RESOURCE_LOCK lh_build_tree
    TIMEOUT 300)
endfunction()

# Forbidden edges (host/README.md draws the arrows).
lh_layering_probe(lh_nn trainer.h FORBIDDEN)      # nn knows no trainer
lh_layering_probe(lh_nn registry.h FORBIDDEN)     # nor the plugin system
lh_layering_probe(lh_train bare.h FORBIDDEN)      # SDK-free plugins are private to plugin/
lh_layering_probe(lh_cli bare_impl.h FORBIDDEN)
lh_layering_probe(lh_plugin trainer.h FORBIDDEN)  # the plugin system knows no trainer
lh_layering_probe(lh_plugin model.h FORBIDDEN)
lh_layering_probe(lh_plugin config.h FORBIDDEN)
lh_layering_probe(lh_data model.h FORBIDDEN)
lh_layering_probe(lh_store data.h FORBIDDEN)
lh_layering_probe(lh_config registry.h FORBIDDEN)
lh_layering_probe(lh_util config.h FORBIDDEN)     # util is the floor
lh_layering_probe(lh_train cmd.h FORBIDDEN)       # only the CLI is above the trainer
# Allowed edges: the same mechanism compiles what the arrows permit.
lh_layering_probe(lh_nn config.h ALLOWED)
lh_layering_probe(lh_nn safetensors.h ALLOWED)
lh_layering_probe(lh_nn kernels/backend.h ALLOWED)
lh_layering_probe(lh_train registry.h ALLOWED)
lh_layering_probe(lh_train model.h ALLOWED)
lh_layering_probe(lh_plugin paths.h ALLOWED)      # plugin -> util
lh_layering_probe(lh_cli trainer.h ALLOWED)
# host/dist is the only room that sees MPI; the trainer reaches it through dist.h.
lh_layering_probe(lh_nn dist.h FORBIDDEN)
lh_layering_probe(lh_dist trainer.h FORBIDDEN)
lh_layering_probe(lh_train dist.h ALLOWED)
if(LHOST_HAVE_MPI)
  lh_layering_probe(lh_train mpi.h FORBIDDEN)
endif()
