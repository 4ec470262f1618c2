# cmake/python.cmake — the Python binding (bindings/python/): its pytest suite as the ctest test
# python_binding, and its installation into a site-packages folder under the prefix with a
# _paths.py that points the package at the installed libjavm.so.
find_program(JAVM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH) # Debian's, with python3-pytest
find_program(JAVM_PYTHON NAMES python3)
set(JAVM_PY_ENV "JAVM_LIBRARY=$<TARGET_FILE:javm_shared>" "JAVM_CLI=$<TARGET_FILE:javm-cli>"
    "JAVM_SOURCE_DIR=${CMAKE_SOURCE_DIR}" "PYTHONDONTWRITEBYTECODE=1")
if(JAVM_SANITIZE)
  # Python itself is not instrumented: the sanitizer runtime must be loaded before libjavm.
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE _asan OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(APPEND JAVM_PY_ENV "LD_PRELOAD=${_asan}" "ASAN_OPTIONS=detect_leaks=0")
endif()
add_test(NAME python_binding
  COMMAND ${JAVM_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/bindings/python/tests)
set_tests_properties(python_binding PROPERTIES ENVIRONMENT "${JAVM_PY_ENV}" TIMEOUT 900)

if(JAVM_PYTHON)
  execute_process(COMMAND ${JAVM_PYTHON} -c "import sys; print('python%d.%d' % sys.version_info[:2])"
                  OUTPUT_VARIABLE _pyver OUTPUT_STRIP_TRAILING_WHITESPACE)
else()
  set(_pyver python3)
endif()
set(JAVM_PYTHON_SITEDIR "${CMAKE_INSTALL_LIBDIR}/${_pyver}/site-packages" CACHE STRING
    "Where `cmake --install` puts the javm Python package (relative to the prefix)")
if(IS_ABSOLUTE "${JAVM_PYTHON_SITEDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(_pylib "${CMAKE_INSTALL_FULL_LIBDIR}")
else()
  file(RELATIVE_PATH _pylib "/p/${JAVM_PYTHON_SITEDIR}/javm" "/p/${CMAKE_INSTALL_LIBDIR}")
endif()
file(WRITE ${CMAKE_BINARY_DIR}/python/_paths.py
     "# Written by `cmake --install`: where libjavm.so is, relative to this package.\nLIBDIR = \"${_pylib}\"\n")
install(DIRECTORY ${CMAKE_SOURCE_DIR}/bindings/python/javm DESTINATION ${JAVM_PYTHON_SITEDIR}
        PATTERN __pycache__ EXCLUDE)
install(FILES ${CMAKE_BINARY_DIR}/python/_paths.py DESTINATION ${JAVM_PYTHON_SITEDIR}/javm)
