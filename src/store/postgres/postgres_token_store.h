// The TokenStore and KeyStore of the PostgreSQL backend (store/token_store.h),
// on a connection Pool. Multi-statement writes run in one READ COMMITTED
// transaction each; the .cc explains the row locks that make rotate() and
// the revocations safe against each other and against other servers.
#pragma once

#include <memory>

#include "store/postgres/pg_db.h"
#include "store/token_store.h"

namespace gh::store::postgres {

// Views of `pool`, which must outlive them. REQUIRES: schema version >= 2.
[[nodiscard]] std::unique_ptr<TokenStore> make_token_store(Pool& pool);
[[nodiscard]] std::unique_ptr<KeyStore> make_key_store(Pool& pool);

}  // namespace gh::store::postgres
