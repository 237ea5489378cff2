// build_info.h: what a binary was built from, for `--version` and the
// hokm_build_info metric. The version is the CMake project's; the commit is
// taken at build time (cmake/HokmBuildInfo.cmake), so it follows every
// commit without a re-configure.
#pragma once

#include <string_view>

namespace hokm::service {

std::string_view Version();  // e.g. "0.1.0"
std::string_view Commit();   // e.g. "9d86f91a2b3c", "9d86f91a2b3c-dirty" or "unknown"

}  // namespace hokm::service
