// The in-memory backend (URL "memory://"): for unit tests of the services
// above the store. Same semantics as the SQL backends, checked by the same
// conformance suite; nothing survives the Store object.
//
// Thread-safety: every method locks one mutex.
#pragma once

#include <memory>

#include "store/store.h"

namespace gh::store::memory {

// A new, empty store. schema_version() is 0 until migrate() is called, as with
// a fresh database; the other methods work either way.
[[nodiscard]] std::unique_ptr<Store> open_memory_store();

}  // namespace gh::store::memory
