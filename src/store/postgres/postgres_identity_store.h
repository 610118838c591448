// The IdentityStore of the PostgreSQL backend (store/identity_store.h), on a
// connection Pool. Creating a user with an identity runs in one transaction;
// delete_identity locks the user's row first, so two unlinks of one user run
// one after the other and the last way in survives; taking flow state is one
// DELETE ... RETURNING.
#pragma once

#include <memory>

#include "store/identity_store.h"
#include "store/postgres/pg_db.h"

namespace gh::store::postgres {

// A view of `pool`, which must outlive it. REQUIRES: schema version >= 8.
[[nodiscard]] std::unique_ptr<IdentityStore> make_identity_store(Pool& pool);

}  // namespace gh::store::postgres
