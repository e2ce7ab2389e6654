# tests/check/tests.cmake — `lhost plugins check` on every reference plugin, every example and
# every fixture (label plugin_check), each list derived from the build so a new plugin, example
# or fixture is checked without an edit here:
#   reference plugins  every lhost_add_plugin target under plugins/ (the LHOST_REFERENCE_PLUGINS
#                      list sdk/cmake/lhostPlugin.cmake keeps); each passes every rule
#   examples           every examples/<name>/CMakeLists.txt's lhost_add_plugin or MODULE
#                      add_library, built here from the same sources; each passes every rule.
#                      examples/bare_rust too when cargo is there (after bare_rust_example
#                      built it)
#   fixtures           every lh_fixture of tests/plugins, with the rule its CHECK names: pass, or
#                      the rule it breaks, whose FAIL line the test expects (hostile ones crash or
#                      hang: the checker's child processes take that)
# Included from tests/CMakeLists.txt.
# Run: ctest --test-dir build -L plugin_check --output-on-failure

# lh_plugin_check(<name> <file> [<rule>]): passes every rule, or fails <rule>.
function(lh_plugin_check name file)
  add_test(NAME plugin_check_${name} COMMAND $<TARGET_FILE:lhost> plugins check ${file})
  if(ARGC GREATER 2 AND NOT ARGV2 STREQUAL "pass")
    # the rule's FAIL line, and never the all-passed summary (the exit status is 1 then)
    set_tests_properties(plugin_check_${name} PROPERTIES
      PASS_REGULAR_EXPRESSION "FAIL  ${ARGV2} +"
      FAIL_REGULAR_EXPRESSION "every rule passed")
  endif()
  set_tests_properties(plugin_check_${name} PROPERTIES LABELS plugin_check TIMEOUT 600)
endfunction()

get_property(LH_REFERENCE_PLUGINS GLOBAL PROPERTY LHOST_REFERENCE_PLUGINS)
if(NOT LH_REFERENCE_PLUGINS)
  message(FATAL_ERROR "tests/check: no reference plugins defined (plugins/ must come first)")
endif()
foreach(p ${LH_REFERENCE_PLUGINS})
  lh_plugin_check(${p} $<TARGET_FILE:${p}>)
endforeach()

# The examples, built here as their own CMakeLists.txt build them against an installed SDK.
set(LH_CHECK_EXAMPLE_DIR ${CMAKE_CURRENT_BINARY_DIR}/check_examples)
file(GLOB LH_EXAMPLE_LISTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/examples/*/CMakeLists.txt)
foreach(f ${LH_EXAMPLE_LISTS})
  get_filename_component(dir ${f} DIRECTORY)
  get_filename_component(ex ${dir} NAME)
  file(READ ${f} text)
  string(REGEX MATCHALL "(lhost_add_plugin|add_library)\\([^)]*\\)" calls "${text}")
  if(NOT calls)
    message(FATAL_ERROR "tests/check: ${f} builds no plugin (lhost_add_plugin or a MODULE "
                        "add_library expected)")
  endif()
  foreach(call ${calls})
    string(REGEX REPLACE "^[a-z_]+\\(|\\)$" "" args "${call}")
    string(REGEX REPLACE "[ \t\r\n]+" ";" args "${args}")
    list(POP_FRONT args name)
    list(REMOVE_ITEM args MODULE)
    list(TRANSFORM args PREPEND ${dir}/)
    set(t check_example_${name})
    if(call MATCHES "^lhost_add_plugin")
      lhost_add_plugin(${t} OUTPUT_DIRECTORY ${LH_CHECK_EXAMPLE_DIR} ${args})
    else() # a bare (SDK-free) plugin: no SDK at all
      add_library(${t} MODULE ${args})
      set_target_properties(${t} PROPERTIES PREFIX "" LIBRARY_OUTPUT_DIRECTORY
        ${LH_CHECK_EXAMPLE_DIR})
    endif()
    set_target_properties(${t} PROPERTIES OUTPUT_NAME ${name})
    lh_plugin_check(example_${name} $<TARGET_FILE:${t}>)
  endforeach()
endforeach()
if(TEST bare_rust_example) # tests/bare builds examples/bare_rust with cargo
  set_tests_properties(bare_rust_example PROPERTIES FIXTURES_SETUP lh_bare_rust)
  lh_plugin_check(example_bare_rust ${LH_BARE_FIXTURE_DIR}/rust/stop_at_rs.so)
  set_tests_properties(plugin_check_example_bare_rust PROPERTIES FIXTURES_REQUIRED lh_bare_rust
    LABELS "plugin_check;rust")
endif()

# The fixtures, each with the rule its lh_fixture(... CHECK <rule>) names.
get_property(LH_FIXTURE_CHECKS GLOBAL PROPERTY LH_FIXTURE_CHECKS)
foreach(pair ${LH_FIXTURE_CHECKS})
  string(REPLACE ":" ";" pr ${pair})
  list(GET pr 0 case)
  list(GET pr 1 rule)
  lh_plugin_check(fixture_${case} $<TARGET_FILE:fixture_${case}> ${rule})
endforeach()
