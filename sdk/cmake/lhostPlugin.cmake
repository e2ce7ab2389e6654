# lhost_add_plugin(<target> <sources>...) — build a plugin shared object against lhost::sdk.
# Used for the reference plugins in the source tree and by plugin authors after
# find_package(lhost). The result is <target>.so (no "lib" prefix) with only the entry symbol
# exported; in the lhost build tree it lands in the build's plugins/ folder.
function(lhost_add_plugin target)
  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE lhost::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  if(DEFINED LHOST_PLUGIN_BUILD_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${LHOST_PLUGIN_BUILD_DIR})
  endif()
endfunction()
