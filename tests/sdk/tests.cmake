# tests/sdk/tests.cmake — the SDK header test and the ABI v1.0 layout freeze.
# header_test.c + abi_layout.c are built three times, as C99, C11 and C++17, with
# -Wall -Wextra -pedantic -Werror; a build failure is a test failure, and each executable also
# checks the macros and inline helpers at run time. With clang installed, the same files are
# compiled by clang too (its layout must match gcc's).
# Run: ctest --test-dir build -R sdk_
set(LH_SDK_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})
set(LH_SDK_STRICT -Wall -Wextra -Wunused-parameter -pedantic -Werror)

foreach(std 99 11)
  add_executable(sdk_header_c${std} ${LH_SDK_TEST_DIR}/header_test.c ${LH_SDK_TEST_DIR}/abi_layout.c)
  set_target_properties(sdk_header_c${std} PROPERTIES C_STANDARD ${std} C_STANDARD_REQUIRED ON
    C_EXTENSIONS OFF)
endforeach()
add_executable(sdk_header_cxx17 ${LH_SDK_TEST_DIR}/header_test.cpp ${LH_SDK_TEST_DIR}/abi_layout.cpp)
set_target_properties(sdk_header_cxx17 PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON
  CXX_EXTENSIONS OFF)

foreach(t sdk_header_c99 sdk_header_c11 sdk_header_cxx17)
  target_link_libraries(${t} PRIVATE lhost::sdk)
  target_include_directories(${t} PRIVATE ${LH_SDK_TEST_DIR})
  target_compile_options(${t} PRIVATE ${LH_SDK_STRICT})
  add_test(NAME ${t} COMMAND ${t})
  set_tests_properties(${t} PROPERTIES LABELS unit TIMEOUT 60)
endforeach()

find_program(LH_CLANG clang)
find_program(LH_CLANGXX clang++)
if(LH_CLANG AND LH_CLANGXX)
  list(JOIN LH_SDK_STRICT " " lh_strict)
  set(lh_inc -I${PROJECT_SOURCE_DIR}/sdk/include -I${LH_SDK_TEST_DIR})
  add_test(NAME sdk_abi_layout_clang COMMAND sh -c
    "\"$0\" -std=c99 ${lh_strict} $3 $4 -fsyntax-only \"$2/abi_layout.c\" \"$2/header_test.c\" && \"$0\" -std=c11 ${lh_strict} $3 $4 -fsyntax-only \"$2/abi_layout.c\" \"$2/header_test.c\" && \"$1\" -std=c++17 ${lh_strict} $3 $4 -fsyntax-only \"$2/abi_layout.cpp\" \"$2/header_test.cpp\""
    ${LH_CLANG} ${LH_CLANGXX} ${LH_SDK_TEST_DIR} ${lh_inc})
  set_tests_properties(sdk_abi_layout_clang PROPERTIES LABELS unit TIMEOUT 120)
endif()
