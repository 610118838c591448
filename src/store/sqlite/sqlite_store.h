// The SQLite backend, the default: one file next to the server, WAL mode.
//
// URLs: sqlite:///abs/path.db, sqlite://./rel/path.db or sqlite://../rel.db
// (relative to the working directory), sqlite::memory: (a private in-memory
// database, gone when the Store is destroyed; one connection).
//
// Thread-safety: the returned Store may be used from many threads. Writes are
// serialised on one connection; reads use StoreOptions::pool_size readers.
// Several processes may open the same file: a write waits up to
// busy_timeout_ms for another process's lock, then fails with Busy.
#pragma once

#include <memory>
#include <string_view>

#include "store/store.h"

namespace gh::store::sqlite {

// Opens (creating the file and its parent directory if missing) without
// migrating. BadUrl if `url` is not one of the forms above; Unavailable if
// the directory or file cannot be created or opened.
[[nodiscard]] Result<std::unique_ptr<Store>> open_sqlite_store(std::string_view url,
                                                               const StoreOptions& options);

}  // namespace gh::store::sqlite
