// TokenStore and KeyStore of the memory backend. Each method holds the one
// mutex of MemoryState for its whole run, which makes it a transaction; the
// checks mirror the SQL schema's keys (Conflict) and foreign keys (NotFound).
#include <algorithm>
#include <set>

#include "store/memory/memory_state.h"

namespace gh::store::memory {
namespace {

class MemoryTokenStore final : public TokenStore {
 public:
  explicit MemoryTokenStore(MemoryState& state) : s_(state) {}

  Status create_family(const RefreshFamily& family, const RefreshToken& first) override {
    std::lock_guard lock(s_.mu);
    if (s_.families.contains(family.id)) return fail(StoreError::Conflict);
    if (!s_.users.contains(family.user_id)) return fail(StoreError::NotFound);
    if (s_.tokens.contains(first.hash)) return fail(StoreError::Conflict);
    if (first.family_id != family.id && !s_.families.contains(first.family_id)) {
      return fail(StoreError::NotFound);
    }
    if (!s_.users.contains(first.user_id)) return fail(StoreError::NotFound);
    s_.families.emplace(family.id, family);
    s_.tokens.emplace(first.hash, first);
    return {};
  }

  Result<RotateResult> rotate(std::string_view hash, const RefreshToken& child,
                              Seconds now) override {
    std::lock_guard lock(s_.mu);
    RotateResult result;
    const auto it = s_.tokens.find(hash);
    if (it == s_.tokens.end()) return result;  // NotFound
    RefreshToken& current = it->second;
    const RefreshFamily& family = s_.families.at(current.family_id);
    const bool active = current.status == RefreshStatus::Active && now < current.expires_at &&
                        !family.revoked_at.has_value();
    if (active) {
      // The checks the SQL INSERT of the child makes, before anything changes.
      if (s_.tokens.contains(child.hash)) return fail(StoreError::Conflict);
      if (!s_.families.contains(child.family_id) || !s_.users.contains(child.user_id)) {
        return fail(StoreError::NotFound);
      }
      current.status = RefreshStatus::Rotated;
      current.rotated_at = now;
      current.child_hash = child.hash;
      s_.tokens.emplace(child.hash, child);
      result.outcome = RotateOutcome::Rotated;
      result.child = child;
    } else {
      result.outcome = RotateOutcome::NotActive;
      if (!current.child_hash.empty()) {
        if (const auto c = s_.tokens.find(current.child_hash); c != s_.tokens.end()) {
          result.child = c->second;
        }
      }
    }
    result.current = current;
    result.family = family;
    return result;
  }

  Result<RefreshToken> find_refresh(std::string_view hash) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.tokens.find(hash);
    if (it == s_.tokens.end()) return fail(StoreError::NotFound);
    return it->second;
  }

  Result<RefreshFamily> find_family(std::string_view family_id) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.families.find(family_id);
    if (it == s_.families.end()) return fail(StoreError::NotFound);
    return it->second;
  }

  Status revoke_family(std::string_view family_id, std::string_view reason, Seconds now) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.families.find(family_id);
    if (it == s_.families.end()) return fail(StoreError::NotFound);
    revoke(it->second, reason, now);
    revoke_tokens_of_revoked_families();
    return {};
  }

  Result<std::vector<std::string>> revoke_user_families(std::string_view user_id,
                                                        std::string_view keep_family_id,
                                                        std::string_view reason,
                                                        Seconds now) override {
    std::lock_guard lock(s_.mu);
    std::vector<std::string> revoked;  // in id order, as the map is
    for (auto& [id, family] : s_.families) {
      if (family.user_id != user_id || id == keep_family_id || family.revoked_at) continue;
      revoke(family, reason, now);
      revoked.push_back(id);
    }
    revoke_tokens_of_revoked_families();
    return revoked;
  }

  Status deny_jti(const DeniedJti& d) override {
    std::lock_guard lock(s_.mu);
    auto [it, inserted] = s_.denied_jtis.try_emplace(d.jti, d);
    if (!inserted) it->second.expires_at = std::max(it->second.expires_at, d.expires_at);
    return {};
  }

  Status deny_subject(const DeniedSubject& d) override {
    std::lock_guard lock(s_.mu);
    auto [it, inserted] = s_.denied_subjects.try_emplace(d.user_id, d);
    if (!inserted) {
      it->second.not_before = std::max(it->second.not_before, d.not_before);
      it->second.expires_at = std::max(it->second.expires_at, d.expires_at);
    }
    return {};
  }

  Result<std::vector<DeniedJti>> denied_jtis(Seconds now) override {
    std::lock_guard lock(s_.mu);
    std::vector<DeniedJti> out;
    for (const auto& [jti, d] : s_.denied_jtis) {
      if (d.expires_at > now) out.push_back(d);
    }
    return out;
  }

  Result<std::vector<DeniedSubject>> denied_subjects(Seconds now) override {
    std::lock_guard lock(s_.mu);
    std::vector<DeniedSubject> out;
    for (const auto& [user_id, d] : s_.denied_subjects) {
      if (d.expires_at > now) out.push_back(d);
    }
    return out;
  }

  Result<std::int64_t> purge(Seconds now, std::chrono::seconds keep) override {
    const Seconds cutoff = now - keep;
    std::lock_guard lock(s_.mu);
    std::int64_t deleted = 0;
    deleted += static_cast<std::int64_t>(
        std::erase_if(s_.tokens, [&](const auto& e) { return e.second.expires_at <= cutoff; }));
    std::set<std::string_view> with_tokens;
    for (const auto& [hash, t] : s_.tokens) with_tokens.insert(t.family_id);
    deleted += static_cast<std::int64_t>(std::erase_if(s_.families, [&](const auto& e) {
      return e.second.created_at < cutoff && !with_tokens.contains(e.first);
    }));
    deleted += static_cast<std::int64_t>(
        std::erase_if(s_.denied_jtis, [&](const auto& e) { return e.second.expires_at <= now; }));
    deleted += static_cast<std::int64_t>(std::erase_if(
        s_.denied_subjects, [&](const auto& e) { return e.second.expires_at <= now; }));
    return deleted;
  }

 private:
  // Idempotent: a family revoked earlier keeps its first time and reason.
  static void revoke(RefreshFamily& family, std::string_view reason, Seconds now) {
    if (family.revoked_at) return;
    family.revoked_at = now;
    family.revoked_reason = reason;
  }
  // REQUIRES: s_.mu held.
  void revoke_tokens_of_revoked_families() {
    for (auto& [hash, t] : s_.tokens) {
      if (s_.families.at(t.family_id).revoked_at) t.status = RefreshStatus::Revoked;
    }
  }

  MemoryState& s_;
};

class MemoryKeyStore final : public KeyStore {
 public:
  explicit MemoryKeyStore(MemoryState& state) : s_(state) {}

  Status activate_key(const StoredKey& key, Seconds previous_not_after) override {
    std::lock_guard lock(s_.mu);
    if (s_.keys.contains(key.kid)) return fail(StoreError::Conflict);
    for (auto& [kid, k] : s_.keys) {
      if (k.status != KeyStatus::Active) continue;
      k.status = KeyStatus::Published;
      k.not_after = previous_not_after;
    }
    StoredKey active = key;
    active.status = KeyStatus::Active;
    s_.keys.emplace(key.kid, std::move(active));
    return {};
  }

  Result<std::vector<StoredKey>> list_keys() override {
    std::lock_guard lock(s_.mu);
    std::vector<StoredKey> out;
    out.reserve(s_.keys.size());
    for (const auto& [kid, k] : s_.keys) out.push_back(k);
    // Stable: ties on created_at stay in kid order, as `ORDER BY created_at DESC, kid`.
    std::stable_sort(out.begin(), out.end(), [](const StoredKey& a, const StoredKey& b) {
      return a.created_at > b.created_at;
    });
    return out;
  }

  Status set_key_status(std::string_view kid, KeyStatus status) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.keys.find(kid);
    if (it == s_.keys.end()) return fail(StoreError::NotFound);
    // The SQL schema's unique index on the Active status: one Active key at most.
    if (status == KeyStatus::Active) {
      for (const auto& [other_kid, k] : s_.keys) {
        if (other_kid != kid && k.status == KeyStatus::Active) return fail(StoreError::Conflict);
      }
    }
    it->second.status = status;
    return {};
  }

 private:
  MemoryState& s_;
};

}  // namespace

std::unique_ptr<TokenStore> make_token_store(MemoryState& state) {
  return std::make_unique<MemoryTokenStore>(state);
}

std::unique_ptr<KeyStore> make_key_store(MemoryState& state) {
  return std::make_unique<MemoryKeyStore>(state);
}

}  // namespace gh::store::memory
