# tests/abi_1_0/tests.cmake — the ABI 1.0 compatibility plugin (compat.c), built against the
# frozen 1.0 headers (tests/abi_1_0/include, a copy of sdk/include as ABI 1.0 shipped it) into
# tests/plugins/compat_1_0/ and against today's SDK into tests/plugins/compat_1_1/;
# tests/unit/test_abi_compat.c runs both. Included from tests/CMakeLists.txt.
foreach(v 1_0 1_1)
  add_library(fixture_compat_${v} MODULE ${CMAKE_CURRENT_SOURCE_DIR}/abi_1_0/compat.c)
  if(v STREQUAL 1_0)
    target_include_directories(fixture_compat_${v} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/abi_1_0/include)
  else()
    target_link_libraries(fixture_compat_${v} PRIVATE lhost::sdk)
    # The source is a 1.0 plugin: its positional initialisers leave 1.1's new members zero,
    # which is what the ABI promises, so the warning about them is noise here.
    target_compile_options(fixture_compat_${v} PRIVATE -Wno-missing-field-initializers)
  endif()
  target_link_libraries(fixture_compat_${v} PRIVATE m)
  set_target_properties(fixture_compat_${v} PROPERTIES PREFIX "" OUTPUT_NAME compat
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/plugins/compat_${v})
  target_link_options(fixture_compat_${v} PRIVATE -Wl,--no-undefined)
  add_dependencies(test_abi_compat fixture_compat_${v})
endforeach()
