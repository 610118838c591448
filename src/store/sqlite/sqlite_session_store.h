// The SessionStore of the SQLite backend (store/session_store.h), on the
// connections of a Database: reads on the reader pool, each write one
// statement on the writer connection (so atomic on its own).
#pragma once

#include <memory>

#include "store/session_store.h"
#include "store/sqlite/sqlite_db.h"

namespace gh::store::sqlite {

// A view of `db`, which must outlive it. REQUIRES: schema version >= 3.
[[nodiscard]] std::unique_ptr<SessionStore> make_session_store(Database& db);

}  // namespace gh::store::sqlite
