// build_info.cc: the only file that includes the generated commit header,
// so a new commit recompiles this file alone.
#include "service/build_info.h"

#include "service/build_info_commit.h"

namespace hokm::service {

std::string_view Version() { return HOKM_VERSION; }
std::string_view Commit() { return HOKM_COMMIT; }

}  // namespace hokm::service
