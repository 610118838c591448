#include "service/sessions/session_service.h"

#include <algorithm>

#include "core/base/encoding.h"
#include "service/tokens/token_service.h"

namespace gh::service {

const char* describe(SessionError e) {
  switch (e) {
    case SessionError::NoSession: return "no valid session";
    case SessionError::BadCsrf: return "the CSRF token is missing or wrong";
    case SessionError::NotYours: return "no such session";
  }
  return "session error";
}
GH_DEFINE_ERROR_CATEGORY(SessionError, "sessions")

SessionService::SessionService(store::SessionStore& sessions, const crypto::Kek& kek, Clock& clock, Random& rng,
                               AuditSink& audit, SessionConfig config)
    : sessions_(sessions),
      clock_(clock),
      rng_(rng),
      audit_(audit),
      cfg_(config),
      csrf_key_(kek.derive("gatehouse/session-csrf/v1")) {}

void SessionService::audit(std::string action, std::string result, std::string actor, std::string subject,
                           const RequestMeta& meta) {
  audit_.record(AuditEvent{std::move(action), std::move(result), std::move(actor), std::move(subject), clock_.now(), meta});
}

std::string SessionService::csrf_for(std::string_view id_hash) const {
  // Bound to the session (its hash), unforgeable without the server key.
  return base64url_encode(crypto::hmac_sha256(csrf_key_.expose(), id_hash));
}

Result<NewSession> SessionService::create(std::string_view user_id, std::string_view amr,
                                          const RequestMeta& meta,
                                          std::optional<Seconds> auth_time) {
  const Seconds now = clock_.now();
  std::string id = random_token(rng_, 32);
  store::Session row;
  row.id_hash = token_hash(id);
  row.user_id = std::string(user_id);
  row.created_at = row.last_seen = now;
  row.auth_time = auth_time ? std::min(*auth_time, now) : now;
  row.expires_at = now + cfg_.absolute_timeout;
  row.idle_expires_at = std::min(now + cfg_.idle_timeout, row.expires_at);
  row.amr = std::string(amr);
  row.ip = meta.ip;
  row.user_agent = meta.user_agent.substr(0, 256);
  if (auto ok = sessions_.create_session(row); !ok) {
    wipe(id);
    return fail(ok.error());
  }
  audit("session.create", "success", row.user_id, row.id_hash.substr(0, 16), meta);
  std::string csrf = csrf_for(row.id_hash);
  return NewSession{SecretString(std::move(id)), std::move(csrf), std::move(row)};
}

Result<CurrentSession> SessionService::authenticate(std::string_view cookie_value) {
  if (cookie_value.empty() || cookie_value.size() > 128) return fail(SessionError::NoSession);
  const Seconds now = clock_.now();
  const std::uint64_t epoch = epoch_.load();  // before the read: see remember()
  auto row = sessions_.find_session(token_hash(cookie_value), now);
  if (!row) {
    if (row.error().code == make_error_code(store::StoreError::NotFound)) return fail(SessionError::NoSession);
    return fail(row.error());
  }
  if (now - row->last_seen >= cfg_.touch_interval) {
    const Seconds idle = std::min(now + cfg_.idle_timeout, row->expires_at);
    if (auto ok = sessions_.touch_session(row->id_hash, now, idle); !ok) {
      if (ok.error().code == make_error_code(store::StoreError::NotFound)) return fail(SessionError::NoSession);
      return fail(ok.error());
    }
    row->last_seen = now;
    row->idle_expires_at = idle;
  }
  std::string csrf = csrf_for(row->id_hash);
  CurrentSession current{std::move(*row), std::move(csrf)};
  if (cfg_.cache_entries > 0 && cache_read_.load(std::memory_order_relaxed)) remember(current, now, epoch);
  return current;
}

std::optional<CurrentSession> SessionService::authenticate_cached(std::string_view cookie_value) const {
  // Until the first call here nothing is cached: servers that never read the cache pay nothing for it.
  if (!cache_read_.load(std::memory_order_relaxed)) cache_read_.store(true, std::memory_order_relaxed);
  if (cfg_.cache_entries == 0 || cookie_value.empty() || cookie_value.size() > 128) return std::nullopt;
  return cached(token_hash(cookie_value), clock_.now());
}

std::optional<CurrentSession> SessionService::cached(std::string_view id_hash, Seconds now) const {
  CacheShard& shard = cache_[std::hash<std::string_view>{}(id_hash) % kShards];
  std::lock_guard lock(shard.mu);
  const auto it = shard.map.find(id_hash);
  if (it == shard.map.end()) return std::nullopt;
  if (now >= it->second.fresh_until) {
    shard.map.erase(it);
    return std::nullopt;
  }
  // A due touch (sliding the idle deadline) is a store write: authenticate() does it.
  if (now - it->second.session.row.last_seen >= cfg_.touch_interval) return std::nullopt;
  return it->second.session;
}

void SessionService::remember(const CurrentSession& s, Seconds now, std::uint64_t epoch) {
  const Seconds fresh_until = std::min({now + cfg_.cache_ttl, s.row.idle_expires_at, s.row.expires_at});
  if (now >= fresh_until) return;
  CacheShard& shard = cache_[std::hash<std::string_view>{}(s.row.id_hash) % kShards];
  std::lock_guard lock(shard.mu);
  // An eviction since our store read began may have been for this very
  // session (revoked while we read it): do not cache what may be stale.
  if (epoch_.load() != epoch) return;
  const std::size_t cap = std::max<std::size_t>(1, cfg_.cache_entries / kShards);
  if (shard.map.size() >= cap && !shard.map.contains(s.row.id_hash)) {
    std::erase_if(shard.map, [now](const auto& kv) { return now >= kv.second.fresh_until; });
    // Bounded: still full of fresh entries, drop an arbitrary one (it is only a cache).
    if (shard.map.size() >= cap) shard.map.erase(shard.map.begin());
  }
  shard.map.insert_or_assign(s.row.id_hash, Cached{s, fresh_until});
}

void SessionService::evict(std::string_view user_id, std::string_view id_hash, std::string_view keep) {
  if (cfg_.cache_entries == 0) return;
  epoch_.fetch_add(1);  // first: a read in flight must not re-insert what we drop below
  if (!id_hash.empty()) {
    CacheShard& shard = cache_[std::hash<std::string_view>{}(id_hash) % kShards];
    std::lock_guard lock(shard.mu);
    if (const auto it = shard.map.find(id_hash); it != shard.map.end()) shard.map.erase(it);
    return;
  }
  for (auto& shard : cache_) {
    std::lock_guard lock(shard.mu);
    std::erase_if(shard.map, [&](const auto& kv) { return kv.second.session.row.user_id == user_id && kv.first != keep; });
  }
}

std::size_t SessionService::cache_size_for_test() const {
  std::size_t n = 0;
  for (auto& shard : cache_) {
    std::lock_guard lock(shard.mu);
    n += shard.map.size();
  }
  return n;
}

bool SessionService::csrf_ok(const CurrentSession& s, std::string_view token) const {
  return !token.empty() && constant_time_equal(s.csrf_token, token);
}

Result<NewSession> SessionService::replace(const CurrentSession* previous, std::string_view user_id,
                                           std::string_view amr, const RequestMeta& meta,
                                           std::string_view login,
                                           std::optional<Seconds> auth_time) {
  // End first: if that fails nothing new exists, and the old session is not silently kept.
  if (previous != nullptr) {
    if (auto ok = end(*previous, meta); !ok) return fail(ok.error());
  }
  auto s = create(user_id, amr, meta, auth_time);
  // A sign-in succeeded when it got its session, not before (an MFA step may still follow a
  // verified password or provider answer: that is user.login.mfa_pending).
  if (s && !login.empty())
    audit("user.login", "success", std::string(user_id), std::string(login), meta);
  return s;
}

Status SessionService::end(const CurrentSession& s, const RequestMeta& meta) {
  auto ok = sessions_.delete_session(s.row.id_hash);
  evict(s.row.user_id, s.row.id_hash, "");  // after the delete: see remember()
  if (!ok) return ok;
  audit("session.end", "success", s.row.user_id, s.row.id_hash.substr(0, 16), meta);
  return {};
}

Status SessionService::revoke(std::string_view user_id, std::string_view handle, const RequestMeta& meta) {
  auto mine = sessions_.list_user_sessions(user_id, clock_.now());
  if (!mine) return fail(mine.error());
  for (const auto& s : *mine) {
    if (s.id_hash == handle) {
      auto ok = sessions_.delete_session(s.id_hash);
      evict(user_id, s.id_hash, "");
      if (!ok) return ok;
      audit("session.revoke", "success", std::string(user_id), s.id_hash.substr(0, 16), meta);
      return {};
    }
  }
  // Someone else's session, or none: the same answer (no cross-user probing).
  audit("session.revoke", "not_found", std::string(user_id), "", meta);
  return fail(SessionError::NotYours);
}

Result<std::int64_t> SessionService::revoke_all(std::string_view user_id, std::string_view keep_handle,
                                                const RequestMeta& meta) {
  auto n = sessions_.delete_user_sessions(user_id, keep_handle);
  evict(user_id, "", keep_handle);  // also on failure: some may be gone
  if (n) audit("session.revoke_all", "success", std::string(user_id), std::to_string(*n) + " sessions", meta);
  return n;
}

Result<std::vector<store::Session>> SessionService::list(std::string_view user_id) {
  return sessions_.list_user_sessions(user_id, clock_.now());
}

}  // namespace gh::service
