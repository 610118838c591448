// SessionStore of the memory backend. Each method holds the one mutex of
// MemoryState for its whole run; the checks mirror the SQL schema's primary
// key (Conflict) and its foreign key to users (NotFound).
#include "store/memory/memory_session_store.h"

#include <algorithm>

#include "store/memory/memory_state.h"

namespace gh::store::memory {
namespace {

// The SQL backends' `idle_expires_at > now AND expires_at > now`.
bool live(const Session& s, Seconds now) { return s.idle_expires_at > now && s.expires_at > now; }

class MemorySessionStore final : public SessionStore {
 public:
  // `check_users`: an unknown user_id is NotFound, as the SQL foreign key
  // makes it; off for a store that stands alone (no users to check against).
  MemorySessionStore(MemoryState& state, bool check_users) : s_(state), check_users_(check_users) {}

  Status create_session(const Session& session) override {
    std::lock_guard lock(s_.mu);
    if (s_.sessions.contains(session.id_hash)) return fail(StoreError::Conflict);
    if (check_users_ && !s_.users.contains(session.user_id)) return fail(StoreError::NotFound);
    s_.sessions.emplace(session.id_hash, session);
    return {};
  }

  Result<Session> find_session(std::string_view id_hash, Seconds now) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.sessions.find(id_hash);
    if (it == s_.sessions.end() || !live(it->second, now)) return fail(StoreError::NotFound);
    return it->second;
  }

  Status touch_session(std::string_view id_hash, Seconds now, Seconds idle_expires_at) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.sessions.find(id_hash);
    if (it == s_.sessions.end() || !live(it->second, now)) return fail(StoreError::NotFound);
    Session& s = it->second;
    s.last_seen = now;
    s.idle_expires_at = std::min(idle_expires_at, s.expires_at);
    return {};
  }

  Status delete_session(std::string_view id_hash) override {
    std::lock_guard lock(s_.mu);
    if (const auto it = s_.sessions.find(id_hash); it != s_.sessions.end()) s_.sessions.erase(it);
    return {};
  }

  Result<std::vector<Session>> list_user_sessions(std::string_view user_id, Seconds now) override {
    std::lock_guard lock(s_.mu);
    std::vector<Session> out;
    for (const auto& [id_hash, s] : s_.sessions) {
      if (s.user_id == user_id && live(s, now)) out.push_back(s);
    }
    // Stable: ties keep id_hash order, as `ORDER BY created_at DESC, id_hash`.
    std::stable_sort(out.begin(), out.end(), [](const Session& a, const Session& b) {
      return a.created_at > b.created_at;
    });
    return out;
  }

  Result<std::int64_t> delete_user_sessions(std::string_view user_id,
                                            std::string_view keep_id_hash) override {
    std::lock_guard lock(s_.mu);
    return static_cast<std::int64_t>(std::erase_if(s_.sessions, [&](const auto& e) {
      return e.second.user_id == user_id && e.first != keep_id_hash;
    }));
  }

  Result<std::int64_t> purge_sessions(Seconds now) override {
    std::lock_guard lock(s_.mu);
    return static_cast<std::int64_t>(
        std::erase_if(s_.sessions, [&](const auto& e) { return !live(e.second, now); }));
  }

  Status ping_sessions() override { return {}; }

 private:
  MemoryState& s_;
  const bool check_users_;
};

// Owns the state it works on.
class StandaloneSessionStore final : public SessionStore {
 public:
  StandaloneSessionStore() : impl_(state_, /*check_users=*/false) {}
  Status create_session(const Session& s) override { return impl_.create_session(s); }
  Result<Session> find_session(std::string_view id_hash, Seconds now) override {
    return impl_.find_session(id_hash, now);
  }
  Status touch_session(std::string_view id_hash, Seconds now, Seconds idle_expires_at) override {
    return impl_.touch_session(id_hash, now, idle_expires_at);
  }
  Status delete_session(std::string_view id_hash) override { return impl_.delete_session(id_hash); }
  Result<std::vector<Session>> list_user_sessions(std::string_view user_id, Seconds now) override {
    return impl_.list_user_sessions(user_id, now);
  }
  Result<std::int64_t> delete_user_sessions(std::string_view user_id,
                                            std::string_view keep_id_hash) override {
    return impl_.delete_user_sessions(user_id, keep_id_hash);
  }
  Result<std::int64_t> purge_sessions(Seconds now) override { return impl_.purge_sessions(now); }
  Status ping_sessions() override { return impl_.ping_sessions(); }

 private:
  MemoryState state_;
  MemorySessionStore impl_;
};

}  // namespace

std::unique_ptr<SessionStore> make_session_store(MemoryState& state) {
  return std::make_unique<MemorySessionStore>(state, /*check_users=*/true);
}

}  // namespace gh::store::memory

namespace gh::store {

std::unique_ptr<SessionStore> make_memory_session_store() {
  return std::make_unique<memory::StandaloneSessionStore>();
}

}  // namespace gh::store
