// The OneTimeTokenStore of the PostgreSQL backend (store/onetime_store.h), on
// a connection Pool; each write is one statement (so atomic on its own;
// consuming is a single DELETE ... RETURNING).
#pragma once

#include <memory>

#include "store/onetime_store.h"
#include "store/postgres/pg_db.h"

namespace gh::store::postgres {

// A view of `pool`, which must outlive it. REQUIRES: schema version >= 6.
[[nodiscard]] std::unique_ptr<OneTimeTokenStore> make_onetime_store(Pool& pool);

}  // namespace gh::store::postgres
