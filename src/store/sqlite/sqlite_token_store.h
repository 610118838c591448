// The TokenStore and KeyStore of the SQLite backend (store/token_store.h),
// on the connections of a Database. Every write runs on the writer
// connection, multi-statement ones inside BEGIN IMMEDIATE, so they are atomic
// against this process (the writer mutex) and other processes (the database
// write lock, waited for up to busy_timeout_ms).
#pragma once

#include <memory>

#include "store/sqlite/sqlite_db.h"
#include "store/token_store.h"

namespace gh::store::sqlite {

// Views of `db`, which must outlive them. REQUIRES: schema version >= 2.
[[nodiscard]] std::unique_ptr<TokenStore> make_token_store(Database& db);
[[nodiscard]] std::unique_ptr<KeyStore> make_key_store(Database& db);

}  // namespace gh::store::sqlite
