// The AuditStore and LockoutStore of the PostgreSQL backend, on a connection Pool.
#pragma once

#include <memory>

#include "store/audit_store.h"
#include "store/lockout_store.h"
#include "store/postgres/pg_db.h"

namespace gh::store::postgres {

// Views of `pool`, which must outlive them. REQUIRES: schema version >= 4.
[[nodiscard]] std::unique_ptr<AuditStore> make_audit_store(Pool& pool);
[[nodiscard]] std::unique_ptr<LockoutStore> make_lockout_store(Pool& pool);

}  // namespace gh::store::postgres
