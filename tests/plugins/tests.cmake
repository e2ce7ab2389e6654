# tests/plugins/tests.cmake — load/unload every fixture under valgrind (label valgrind).
# Included from tests/CMakeLists.txt, so paths are relative to tests/.
add_executable(lh_load_all ${CMAKE_CURRENT_SOURCE_DIR}/plugins/load_all.c)
target_link_libraries(lh_load_all PRIVATE lhost_core)
add_dependencies(lh_load_all lh_fixtures)
add_test(NAME fixtures_load_all COMMAND lh_load_all ${CMAKE_CURRENT_BINARY_DIR}/plugins)
set_tests_properties(fixtures_load_all PROPERTIES LABELS unit TIMEOUT 120)

find_program(LH_VALGRIND valgrind)
if(LH_VALGRIND AND NOT LHOST_SANITIZE)
  add_test(NAME fixtures_valgrind
    COMMAND ${LH_VALGRIND} --leak-check=full --error-exitcode=1 --errors-for-leak-kinds=definite,indirect
            --trace-children=no $<TARGET_FILE:lh_load_all> ${CMAKE_CURRENT_BINARY_DIR}/plugins)
  set_tests_properties(fixtures_valgrind PROPERTIES LABELS valgrind TIMEOUT 600)
elseif(NOT LH_VALGRIND)
  message(STATUS "lhost: valgrind not found (Debian package: valgrind); fixtures_valgrind skipped")
endif()
