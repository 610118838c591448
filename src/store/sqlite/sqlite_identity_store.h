// The IdentityStore of the SQLite backend (store/identity_store.h), on the
// connections of a Database: reads on the reader pool, writes on the writer
// connection. Creating a user with an identity and the last-sign-in-method
// check of delete_identity run in one transaction each; taking flow state is
// one DELETE ... RETURNING.
#pragma once

#include <memory>

#include "store/identity_store.h"
#include "store/sqlite/sqlite_db.h"

namespace gh::store::sqlite {

// A view of `db`, which must outlive it. REQUIRES: schema version >= 8.
[[nodiscard]] std::unique_ptr<IdentityStore> make_identity_store(Database& db);

}  // namespace gh::store::sqlite
