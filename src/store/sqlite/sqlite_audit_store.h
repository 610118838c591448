// The AuditStore and LockoutStore of the SQLite backend, on the connections
// of a Database (reads on the reader pool, writes on the writer connection).
#pragma once

#include <memory>

#include "store/audit_store.h"
#include "store/lockout_store.h"
#include "store/sqlite/sqlite_db.h"

namespace gh::store::sqlite {

// Views of `db`, which must outlive them. REQUIRES: schema version >= 4.
[[nodiscard]] std::unique_ptr<AuditStore> make_audit_store(Database& db);
[[nodiscard]] std::unique_ptr<LockoutStore> make_lockout_store(Database& db);

}  // namespace gh::store::sqlite
