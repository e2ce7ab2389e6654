# Exit code 77 marks an e2e test skipped (e.g. the dataset is not installed).
foreach(src ${LH_E2E_TESTS})
  get_filename_component(name ${src} NAME_WE)
  set_tests_properties(e2e_${name} PROPERTIES SKIP_RETURN_CODE 77)
endforeach()
