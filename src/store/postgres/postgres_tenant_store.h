// The TenantStore of the PostgreSQL backend (store/tenant_store.h), on a
// connection Pool; each write is one statement (so atomic on its own).
#pragma once

#include <memory>

#include "store/postgres/pg_db.h"
#include "store/tenant_store.h"

namespace gh::store::postgres {

// A view of `pool`, which must outlive it. REQUIRES: schema version >= 5.
[[nodiscard]] std::unique_ptr<TenantStore> make_tenant_store(Pool& pool);

}  // namespace gh::store::postgres
