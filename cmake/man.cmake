# cmake/man.cmake — the man pages, generated at build time from the javm command's own --help
# output by scripts/gen-man.sh (one source: the command's usage texts), and installed.
set(JAVM_MAN_DIR ${CMAKE_BINARY_DIR}/man)
add_custom_command(OUTPUT ${JAVM_MAN_DIR}/javm.1
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${JAVM_MAN_DIR}
  COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/gen-man.sh $<TARGET_FILE:javm-cli> ${JAVM_MAN_DIR}
  DEPENDS javm-cli ${CMAKE_SOURCE_DIR}/scripts/gen-man.sh
  COMMENT "man pages from javm --help")
add_custom_target(javm-man ALL DEPENDS ${JAVM_MAN_DIR}/javm.1)
install(DIRECTORY ${JAVM_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 FILES_MATCHING PATTERN "*.1")
