# lhostPlugin.cmake — lhost_add_plugin(), the one-line way to build a plugin shared object.
#
#   lhost_add_plugin(<target> [OUTPUT_DIRECTORY <dir>] <sources>...)
#
# Builds <target>.so (a MODULE, no "lib" prefix) linked to lhost::sdk, with hidden visibility so
# only lhost_plugin_entry (marked LHOST_EXPORT) is exported, and -Wl,--no-undefined so a missing
# symbol fails the link instead of the load. The C library and libm (expf, logf, ...) are linked,
# as every C program has them; anything else a plugin needs it links itself. Plugin authors get
# it from find_package(lhost); to install the plugin where an installed lhost finds it:
#   install(TARGETS <target> LIBRARY DESTINATION ${LHOST_PLUGIN_INSTALL_DIR})
# or copy the .so into ~/.local/share/lhost/plugins, or point `lhost --plugin-dir` at it.
#
# Inside the lhost source tree only (sdk/CMakeLists.txt sets the global properties below; the
# installed package never does), plugins under the tree's plugins/ folder land in the build's
# plugin folder, where a build-tree lhost looks, and are installed with lhost.
function(lhost_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 LHAP "" "OUTPUT_DIRECTORY" "")
  if(NOT LHAP_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "lhost_add_plugin(${target}): no source files given")
  endif()
  add_library(${target} MODULE ${LHAP_UNPARSED_ARGUMENTS})
  target_link_libraries(${target} PRIVATE lhost::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  # --no-undefined demands every symbol resolve at link time, so the math library must be named
  # (glibc keeps it out of libc). Where libm is part of libc (macOS, musl) there is no libm.
  find_library(LHOST_LIBM m)
  if(LHOST_LIBM)
    target_link_libraries(${target} PRIVATE ${LHOST_LIBM})
  endif()

  get_property(ref_src GLOBAL PROPERTY LHOST_TREE_PLUGIN_SOURCE_DIR)
  get_property(ref_build GLOBAL PROPERTY LHOST_TREE_PLUGIN_BUILD_DIR)
  get_property(ref_install GLOBAL PROPERTY LHOST_TREE_PLUGIN_INSTALL_DIR)
  set(is_reference OFF)
  if(ref_src)
    string(FIND "${CMAKE_CURRENT_SOURCE_DIR}/" "${ref_src}/" at)
    if(at EQUAL 0)
      set(is_reference ON)
    endif()
  endif()

  if(LHAP_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${LHAP_OUTPUT_DIRECTORY})
  elseif(is_reference)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ref_build})
  endif()
  if(is_reference)
    install(TARGETS ${target} LIBRARY DESTINATION ${ref_install})
    # the one list of reference plugins (tests/check runs `lhost plugins check` on each)
    set_property(GLOBAL APPEND PROPERTY LHOST_REFERENCE_PLUGINS ${target})
  endif()
endfunction()
