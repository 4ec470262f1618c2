# guest/guest.cmake — builds JAVM guest images from C sources at build time (optional).
# Include from the top-level CMakeLists.txt with `include(guest/guest.cmake)`. Defines
#   javm_add_guest(NAME SOURCES src.c... [CFLAGS flag...])
# which makes target guest_NAME producing ${CMAKE_BINARY_DIR}/guests/NAME.jimg through
# guest/build.sh (clang-19 -> ld.lld-19 -> javm ld), and builds the five examples when
# clang-19 is found. Without clang-19 nothing is added.
find_program(JAVM_CLANG19 clang-19)
find_program(JAVM_LLD19 ld.lld-19)

function(javm_add_guest name)
  cmake_parse_arguments(G "" "" "SOURCES;CFLAGS" ${ARGN})
  set(out ${CMAKE_BINARY_DIR}/guests/${name}.jimg)
  set(cflags)
  if(G_CFLAGS)
    set(cflags -- ${G_CFLAGS})
  endif()
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/guests
    COMMAND bash ${CMAKE_SOURCE_DIR}/guest/build.sh $<TARGET_FILE:javm-cli> ${out} ${G_SOURCES} ${cflags}
    DEPENDS javm-cli ${G_SOURCES} ${CMAKE_SOURCE_DIR}/guest/include/javm_guest.h
            ${CMAKE_SOURCE_DIR}/guest/javm.ld ${CMAKE_SOURCE_DIR}/guest/build.sh
    COMMENT "guest ${name}.jimg")
  add_custom_target(guest_${name} ALL DEPENDS ${out})
endfunction()

if(JAVM_CLANG19 AND JAVM_LLD19)
  set(_ex ${CMAKE_SOURCE_DIR}/guest/examples)
  javm_add_guest(counter SOURCES ${_ex}/counter.c)
  javm_add_guest(notes SOURCES ${_ex}/notes.c)
  javm_add_guest(fib SOURCES ${_ex}/fib.c)
  javm_add_guest(blake2b SOURCES ${_ex}/blake2b.c ${_ex}/lib/blake2b.c CFLAGS -I${_ex})
  javm_add_guest(sort SOURCES ${_ex}/sort.c ${_ex}/lib/kernels.c CFLAGS -I${_ex})
else()
  message(STATUS "clang-19 not found: guest images are not built (scripts/deps.sh guest)")
endif()
