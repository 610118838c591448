// The MfaStore of the PostgreSQL backend (store/mfa_store.h), on a connection
// Pool. The compare-and-swaps (confirm, advance the step) are one UPDATE
// each; consuming a recovery code (DELETE ... RETURNING, then count) and
// replacing the codes run in one transaction.
#pragma once

#include <memory>

#include "store/mfa_store.h"
#include "store/postgres/pg_db.h"

namespace gh::store::postgres {

// A view of `pool`, which must outlive it. REQUIRES: schema version >= 7.
[[nodiscard]] std::unique_ptr<MfaStore> make_mfa_store(Pool& pool);

}  // namespace gh::store::postgres
