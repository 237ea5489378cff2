// change.cc: stable names of the change record types (kRecordTypes,
// core/records/record_types.h).
#include "core/records/change.h"

#include "core/records/record_types.h"

namespace hokm::core {

const char* RecordTypeName(RecordType t) { return RecordTypeName(static_cast<hokm::fb::Body>(t)); }

}  // namespace hokm::core
