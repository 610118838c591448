// The MfaStore of the SQLite backend (store/mfa_store.h), on the connections
// of a Database: reads on the reader pool, writes on the writer connection.
// The compare-and-swaps (confirm, advance the step) are one UPDATE each;
// consuming a recovery code (DELETE, then count) and replacing the codes run
// in one transaction.
#pragma once

#include <memory>

#include "store/mfa_store.h"
#include "store/sqlite/sqlite_db.h"

namespace gh::store::sqlite {

// A view of `db`, which must outlive it. REQUIRES: schema version >= 7.
[[nodiscard]] std::unique_ptr<MfaStore> make_mfa_store(Database& db);

}  // namespace gh::store::sqlite
