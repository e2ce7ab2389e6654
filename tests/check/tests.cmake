# tests/check/tests.cmake — `lhost plugins check` on every reference plugin, every example and
# every fixture (label plugin_check): the reference plugins and examples pass every rule, each
# fixture of tests/plugins fails the rule it breaks (hostile ones crash or hang: the checker's
# child processes take that). Included from tests/CMakeLists.txt.
# Run: ctest --test-dir build -L plugin_check --output-on-failure

# The examples, built here as their own CMakeLists.txt build them against an installed SDK.
set(LH_CHECK_EXAMPLE_DIR ${CMAKE_CURRENT_BINARY_DIR}/check_examples)
foreach(ex hello_callback balanced_accuracy lr_on_plateau)
  lhost_add_plugin(check_example_${ex} OUTPUT_DIRECTORY ${LH_CHECK_EXAMPLE_DIR}
                   ${PROJECT_SOURCE_DIR}/examples/${ex}/${ex}.c)
  set_target_properties(check_example_${ex} PROPERTIES OUTPUT_NAME ${ex})
endforeach()
add_library(check_example_stop_at MODULE ${PROJECT_SOURCE_DIR}/examples/bare_c/stop_at.c)
set_target_properties(check_example_stop_at PROPERTIES PREFIX "" OUTPUT_NAME stop_at
  LIBRARY_OUTPUT_DIRECTORY ${LH_CHECK_EXAMPLE_DIR})

# lh_plugin_check(<name> <file> [<rule>]): passes every rule, or fails <rule>.
function(lh_plugin_check name file)
  add_test(NAME plugin_check_${name} COMMAND $<TARGET_FILE:lhost> plugins check ${file})
  if(ARGC GREATER 2)
    # the rule's FAIL line, and never the all-passed summary (the exit status is 1 then)
    set_tests_properties(plugin_check_${name} PROPERTIES
      PASS_REGULAR_EXPRESSION "FAIL  ${ARGV2} +"
      FAIL_REGULAR_EXPRESSION "every rule passed")
  endif()
  set_tests_properties(plugin_check_${name} PROPERTIES LABELS plugin_check TIMEOUT 600)
endfunction()

foreach(p early_stopping jsonl_logger metrics model_checkpoint)
  lh_plugin_check(${p} ${LHOST_PLUGIN_BUILD_DIR}/${p}.so)
endforeach()
foreach(ex hello_callback balanced_accuracy lr_on_plateau stop_at)
  lh_plugin_check(example_${ex} ${LH_CHECK_EXAMPLE_DIR}/${ex}.so)
endforeach()

set(fx ${CMAKE_CURRENT_BINARY_DIR}/plugins)
foreach(ok good two dispatch older_minor dup_name metric_v10 noop)
  lh_plugin_check(fixture_${ok} ${fx}/${ok}/${ok}.so)
endforeach()
lh_plugin_check(fixture_dup_a ${fx}/dup_a/good.so)
lh_plugin_check(fixture_dup_b ${fx}/dup_b/good.so)
# fixture                      rule it breaks
foreach(pair no_entry:load wrong_major:load newer_minor:load segv:load hang:load
             entry_error:load entry_null:load unresolved:load
             bad_schema:schema crash_create:schema
             many:descriptor huge_stride:descriptor space_id:descriptor
             no_description:descriptor
             crash_hook:hooks hang_hook:hooks crash_update:hooks silent_error:hooks
             bad_state:state hidden_state:order leak:leaks entry_twice:entry)
  string(REPLACE ":" ";" pr ${pair})
  list(GET pr 0 case)
  list(GET pr 1 rule)
  lh_plugin_check(fixture_${case} ${fx}/${case}/${case}.so ${rule})
endforeach()
