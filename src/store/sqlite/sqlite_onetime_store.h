// The OneTimeTokenStore of the SQLite backend (store/onetime_store.h), on the
// connections of a Database: reads on the reader pool, each write one
// statement on the writer connection (so atomic on its own; consuming is a
// single DELETE ... RETURNING).
#pragma once

#include <memory>

#include "store/onetime_store.h"
#include "store/sqlite/sqlite_db.h"

namespace gh::store::sqlite {

// A view of `db`, which must outlive it. REQUIRES: schema version >= 6.
[[nodiscard]] std::unique_ptr<OneTimeTokenStore> make_onetime_store(Database& db);

}  // namespace gh::store::sqlite
