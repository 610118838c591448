// The PostgreSQL backend (libpq), for deployments that run several server
// instances against one database.
//
// URLs: postgres://user:password@host:port/db?sslmode=... or postgresql://...,
// handed to libpq as a connection URI (so every libpq parameter works;
// connect_timeout defaults to 10 s). StoreOptions::busy_timeout_ms becomes
// each session's lock_timeout (a write blocked longer on a lock fails with
// Busy) unless the URL passes its own `options`. The database user must be
// able to create tables in the search_path's first schema when migrating.
//
// Thread-safety: the returned Store may be used from many threads; each call
// borrows one of StoreOptions::pool_size connections, waiting if all are busy.
#pragma once

#include <memory>
#include <string_view>

#include "store/store.h"

namespace gh::store::postgres {

// Opens pool_size connections without migrating. BadUrl if libpq cannot parse
// `url`; Unavailable if any connection fails.
[[nodiscard]] Result<std::unique_ptr<Store>> open_postgres_store(std::string_view url,
                                                                 const StoreOptions& options);

}  // namespace gh::store::postgres
