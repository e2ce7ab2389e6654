# tests/torture/tests.cmake — test_torture: kill -9 and SIGINT at seeded random moments with
# resumes, an injected write failure and a full tmpfs (label slow; ~1 minute in Release).
add_executable(test_torture ${CMAKE_CURRENT_LIST_DIR}/test_torture.c)
target_link_libraries(test_torture PRIVATE lhost_core PkgConfig::CHECK)
target_include_directories(test_torture PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit)
target_compile_definitions(test_torture PRIVATE ${LH_TEST_DEFS})
add_test(NAME torture COMMAND test_torture)
set_tests_properties(torture PROPERTIES LABELS slow TIMEOUT 1800 ENVIRONMENT "LHOST_DATA_CACHE=0")
