#include "store/store.h"

#include "store/memory/memory_store.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace gh::store {

const char* describe(StoreError e) {
  switch (e) {
    case StoreError::NotFound:
      return "not found";
    case StoreError::Conflict:
      return "already exists";
    case StoreError::Unavailable:
      return "the database is unavailable";
    case StoreError::Busy:
      return "the database is busy";
    case StoreError::BadUrl:
      return "the store URL is not valid";
    case StoreError::Internal:
      return "internal database error";
  }
  return "unknown store error";
}
GH_DEFINE_ERROR_CATEGORY(StoreError, "store")

Result<std::unique_ptr<Store>> open_store(std::string_view url, const StoreOptions& options) {
  // The URL is never echoed back: a postgres:// URL may carry a password.
  if (url.starts_with("sqlite:")) return sqlite::open_sqlite_store(url, options);
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    return postgres::open_postgres_store(url, options);
  }
  if (url == "memory://") return memory::open_memory_store();
  return fail(
      StoreError::BadUrl,
      "unknown store URL scheme (expected sqlite:, postgres://, postgresql:// or memory://)");
}

}  // namespace gh::store
