# cmake/install.cmake — what `cmake --install` (and `make install PREFIX=...`) puts where:
#   bin/javm                              the command
#   lib*/libjavm.so.X.Y.Z, .so.X, .so     the shared library (SONAME libjavm.so.X) and links
#   lib*/libjavm.a                        the static library
#   include/javm.h, include/javm/*.h      the public headers
#   lib*/pkgconfig/javm.pc, libjavm.pc    pkg-config (`pkg-config --cflags --libs javm`)
#   lib*/cmake/javm/                      CMake package: find_package(javm) -> javm::javm
#   share/man/man1/                       man pages (javm.1 and one per subcommand)
#   share/javm/guest/                     the guest SDK: header, linker script, build.sh, examples
#   share/javm/bench-programs/            the benchmark programs `javm bench` runs by default
#   share/doc/javm/                       README, CHANGELOG and docs/
# Included from CMakeLists.txt after the targets are defined.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS javm-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS javm_shared LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Unspecified)
install(TARGETS javm ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/javm.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/javm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

# pkg-config: one file under two names, so `pkg-config javm` and `pkg-config libjavm` agree.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(JAVM_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(JAVM_PC_LIBDIR "\${exec_prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(JAVM_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(JAVM_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_DATADIR}")
  set(JAVM_PC_DATADIR "${CMAKE_INSTALL_DATADIR}")
else()
  set(JAVM_PC_DATADIR "\${prefix}/${CMAKE_INSTALL_DATADIR}")
endif()
# prefix= is relative to the .pc file's own folder, so the file stays right wherever
# `cmake --install --prefix P` puts the tree (configure-time prefix only for an absolute libdir).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(JAVM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _rel "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  string(REGEX REPLACE "/$" "" _rel "${_rel}")
  set(JAVM_PC_PREFIX "\${pcfiledir}/${_rel}")
endif()
if(JAVM_HAVE_RADOS)
  set(JAVM_PC_RADOS "-lrados ")
else()
  set(JAVM_PC_RADOS "")
endif()
configure_file(${CMAKE_SOURCE_DIR}/cmake/javm.pc.in ${CMAKE_BINARY_DIR}/javm.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/javm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${CMAKE_BINARY_DIR}/javm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        RENAME libjavm.pc)

# CMake package (relocatable: paths are computed from the package's own location).
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/javmConfig.cmake.in
  ${CMAKE_BINARY_DIR}/javmConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/javm
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/javmConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/javmConfig.cmake ${CMAKE_BINARY_DIR}/javmConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/javm)

# The guest SDK and its examples, the benchmark programs, and the documentation.
install(FILES ${CMAKE_SOURCE_DIR}/guest/javm.ld ${CMAKE_SOURCE_DIR}/guest/guest.cmake
        DESTINATION ${CMAKE_INSTALL_DATADIR}/javm/guest)
install(PROGRAMS ${CMAKE_SOURCE_DIR}/guest/build.sh DESTINATION ${CMAKE_INSTALL_DATADIR}/javm/guest)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/guest/include ${CMAKE_SOURCE_DIR}/guest/examples
        DESTINATION ${CMAKE_INSTALL_DATADIR}/javm/guest)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/bench/programs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/javm/bench-programs)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/CHANGELOG.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
