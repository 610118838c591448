#include "store/memory/memory_store.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "store/schema.h"

namespace gh::store::memory {
namespace {

class MemoryUserStore final : public UserStore {
 public:
  Status create_user(const User& user) override {
    std::lock_guard lock(mu_);
    if (by_id_.contains(user.id) || id_by_email_.contains(user.email_normalized)) {
      return fail(StoreError::Conflict);
    }
    by_id_.emplace(user.id, user);
    id_by_email_.emplace(user.email_normalized, user.id);
    return {};
  }

  Result<User> find_user_by_email(std::string_view email_normalized) override {
    std::lock_guard lock(mu_);
    const auto it = id_by_email_.find(std::string(email_normalized));
    if (it == id_by_email_.end()) return fail(StoreError::NotFound);
    return by_id_.at(it->second);
  }

  Result<User> find_user_by_id(std::string_view id) override {
    std::lock_guard lock(mu_);
    const auto it = by_id_.find(id);
    if (it == by_id_.end()) return fail(StoreError::NotFound);
    return it->second;
  }

  Result<UserPage> list_users(std::optional<std::string_view> after, std::size_t limit,
                              std::optional<std::string_view> email_contains) override {
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    std::lock_guard lock(mu_);
    UserPage page;
    auto it = after ? by_id_.upper_bound(*after) : by_id_.begin();
    for (; it != by_id_.end(); ++it) {
      const User& u = it->second;
      if (email_contains && u.email_normalized.find(*email_contains) == std::string::npos) continue;
      if (page.users.size() == limit) {
        // One more match exists past the page, so there is a next page.
        page.next_cursor = page.users.back().id;
        break;
      }
      page.users.push_back(u);
    }
    return page;
  }

  Status update_password_hash(std::string_view id, std::string_view expected_old,
                              std::string_view new_hash, Seconds now) override {
    std::lock_guard lock(mu_);
    const auto it = by_id_.find(id);
    if (it == by_id_.end() || it->second.password_hash != expected_old) {
      return fail(StoreError::NotFound);
    }
    it->second.password_hash = new_hash;
    it->second.updated_at = now;
    return {};
  }

  Status set_disabled(std::string_view id, bool disabled, Seconds now) override {
    std::lock_guard lock(mu_);
    const auto it = by_id_.find(id);
    if (it == by_id_.end()) return fail(StoreError::NotFound);
    it->second.disabled = disabled;
    it->second.updated_at = now;
    return {};
  }

  Status delete_user(std::string_view id) override {
    std::lock_guard lock(mu_);
    const auto it = by_id_.find(id);
    if (it == by_id_.end()) return fail(StoreError::NotFound);
    id_by_email_.erase(it->second.email_normalized);
    by_id_.erase(it);
    return {};
  }

  Result<std::int64_t> count_users() override {
    std::lock_guard lock(mu_);
    return static_cast<std::int64_t>(by_id_.size());
  }

 private:
  std::mutex mu_;
  // Ordered by id with std::less<> so list_users pages like `ORDER BY id` in SQL
  // (byte order) and lookups take a string_view.
  std::map<std::string, User, std::less<>> by_id_;
  std::unordered_map<std::string, std::string> id_by_email_;
};

class MemoryStore final : public Store {
 public:
  Result<int> migrate() override {
    std::lock_guard lock(mu_);
    version_ = kSchemaVersion;
    return version_;
  }
  Result<int> schema_version() override {
    std::lock_guard lock(mu_);
    return version_;
  }
  Status ping() override { return {}; }
  std::string_view backend() const override { return "memory"; }
  UserStore& users() override { return users_; }

 private:
  std::mutex mu_;
  int version_ = 0;
  MemoryUserStore users_;
};

}  // namespace

std::unique_ptr<Store> open_memory_store() { return std::make_unique<MemoryStore>(); }

}  // namespace gh::store::memory
