// The TenantStore of the SQLite backend (store/tenant_store.h), on the
// connections of a Database: reads on the reader pool, each write one
// statement on the writer connection (so atomic on its own).
#pragma once

#include <memory>

#include "store/sqlite/sqlite_db.h"
#include "store/tenant_store.h"

namespace gh::store::sqlite {

// A view of `db`, which must outlive it. REQUIRES: schema version >= 5.
[[nodiscard]] std::unique_ptr<TenantStore> make_tenant_store(Database& db);

}  // namespace gh::store::sqlite
