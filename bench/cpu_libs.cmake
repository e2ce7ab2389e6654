# bench/cpu_libs.cmake — gemm_openblas, gemm_dnnl, gemm_blis: the CPU library comparison
# (bench/cpu_libs/gemm_libs.c). Each is built only when its library is installed.
set(LH_GEMM_SRC ${CMAKE_CURRENT_SOURCE_DIR}/cpu_libs/gemm_libs.c)
find_package(OpenMP COMPONENTS C QUIET)

find_path(LH_OPENBLAS_INC cblas.h PATH_SUFFIXES openblas-pthread x86_64-linux-gnu/openblas-pthread)
find_library(LH_OPENBLAS_LIB openblas)
if(LH_OPENBLAS_INC AND LH_OPENBLAS_LIB)
  add_executable(gemm_openblas ${LH_GEMM_SRC})
  target_include_directories(gemm_openblas SYSTEM PRIVATE ${LH_OPENBLAS_INC})
  target_link_libraries(gemm_openblas PRIVATE ${LH_OPENBLAS_LIB} m)
endif()

if(LH_DNNL_LIB AND OpenMP_C_FOUND)
  add_executable(gemm_dnnl ${LH_GEMM_SRC})
  target_compile_definitions(gemm_dnnl PRIVATE USE_DNNL)
  target_include_directories(gemm_dnnl SYSTEM PRIVATE ${LH_DNNL_INCLUDE})
  target_link_libraries(gemm_dnnl PRIVATE ${LH_DNNL_LIB} OpenMP::OpenMP_C m)
endif()

find_path(LH_BLIS_INC blis.h PATH_SUFFIXES blis-openmp x86_64-linux-gnu/blis-openmp)
find_library(LH_BLIS_LIB blis PATH_SUFFIXES blis-openmp)
if(LH_BLIS_INC AND LH_BLIS_LIB AND OpenMP_C_FOUND)
  add_executable(gemm_blis ${LH_GEMM_SRC})
  target_compile_definitions(gemm_blis PRIVATE USE_BLIS)
  target_include_directories(gemm_blis SYSTEM PRIVATE ${LH_BLIS_INC})
  target_link_libraries(gemm_blis PRIVATE ${LH_BLIS_LIB} OpenMP::OpenMP_C m)
endif()
