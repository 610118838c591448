// The SessionStore of the PostgreSQL backend (store/session_store.h), on a
// connection Pool. Every method is one statement, atomic on its own.
#pragma once

#include <memory>

#include "store/postgres/pg_db.h"
#include "store/session_store.h"

namespace gh::store::postgres {

// A view of `pool`, which must outlive it. REQUIRES: schema version >= 3.
[[nodiscard]] std::unique_ptr<SessionStore> make_session_store(Pool& pool);

}  // namespace gh::store::postgres
