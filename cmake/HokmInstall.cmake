# HokmInstall.cmake: what `cmake --install` puts under the prefix for programs
# built against hokm (the binaries and the PostgreSQL schema install from
# their own folders):
#   include/hokm/core/..., include/hokm/shm/..., include/hokm/hokm_generated.h
#   lib/libhokm_core.a, lib/libhokm_shm.a
#   lib/cmake/hokm/: hokmConfig.cmake, hokmConfigVersion.cmake, hokmTargets*.cmake
#   lib/pkgconfig/hokm.pc
# The include directory is include/hokm, so a user writes what the project
# itself writes, #include "core/engine.h", and the package claims no generic
# include/core/ or include/shm/ of the prefix.
include(CMakePackageConfigHelpers)

set(HOKM_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/hokm)
set(HOKM_INCLUDE_INSTALL_DIR ${CMAKE_INSTALL_INCLUDEDIR}/hokm)

# hokm::core, hokm::shm and the generated header (hokm::schemas, which
# hokm::core links). Their include directory, installed, is include/hokm
# (from the file sets; INCLUDES for consumers with CMake older than 3.23,
# which ignore file sets).
install(TARGETS hokm_core hokm_shm hokm_schemas EXPORT hokmTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  FILE_SET HEADERS DESTINATION ${HOKM_INCLUDE_INSTALL_DIR}
  INCLUDES DESTINATION ${HOKM_INCLUDE_INSTALL_DIR})
install(EXPORT hokmTargets NAMESPACE hokm:: DESTINATION ${HOKM_CMAKE_INSTALL_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/hokmConfig.cmake.in
  ${PROJECT_BINARY_DIR}/hokmConfig.cmake INSTALL_DESTINATION ${HOKM_CMAKE_INSTALL_DIR})
# Before 1.0 a minor version may break the API: 0.1.x is compatible with 0.1.0 only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/hokmConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/hokmConfig.cmake ${PROJECT_BINARY_DIR}/hokmConfigVersion.cmake
  DESTINATION ${HOKM_CMAKE_INSTALL_DIR})

# hokm.pc finds its prefix from its own place (${pcfiledir}), so it stays
# right under `cmake --install --prefix <anywhere>`.
file(RELATIVE_PATH HOKM_PC_TO_PREFIX ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig
     ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" HOKM_PC_TO_PREFIX "${HOKM_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/hokm.pc.in ${PROJECT_BINARY_DIR}/hokm.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/hokm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
