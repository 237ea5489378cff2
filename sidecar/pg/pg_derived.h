// pg_derived.h: the PostgreSQL sink's planning of derived rows: the
// VALUES lists of the statements of pg_sql.h, built from the records a
// batch inserted (what each record type derives: sessions, seats, the
// first hakem, hands, results, connections).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <unordered_map>

#include "hokm_generated.h"

namespace hokm::sidecar {

// The VALUES rows of the derived statements, one list per statement.
struct DerivedRows {
  std::string created, seats, connections, first_hakem, hands, finished, abandoned;
  // Each game's last TrickWon added: a HandScored comes right after its
  // hand's last TrickWon (in the same command).
  std::unordered_map<std::uint64_t, const hokm::fb::ChangeRecord*> last_trick;

  void Clear() {
    for (std::string* s :
         {&created, &seats, &connections, &first_hakem, &hands, &finished, &abandoned})
      s->clear();
    last_trick.clear();
  }

  // Appends the record's row to its list; card plays, deals, tricks and the
  // like derive nothing.
  // REQUIRES: a command's records are added together and in order; r
  // outlives the next Clear.
  void Add(const hokm::fb::ChangeRecord& r);
};

}  // namespace hokm::sidecar
