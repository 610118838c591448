#include "store/redis/redis_session_store.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include <spdlog/spdlog.h>

#include "store/redis/redis_client.h"

namespace gh::store {
namespace redis {
namespace {

// ---- The scripts ----------------------------------------------------------------
// Times travel as decimal strings and are stored as given; Lua compares them
// as numbers (doubles: exact for unix seconds). Each returns an integer.

// KEYS: session hash, user set. ARGV: id_hash, user_id, created_at, last_seen,
// idle_expires_at, expires_at, auth_time, amr, ip, user_agent.
// 1 if created, 0 if the id_hash exists (nothing changed).
constexpr const char* kCreateScript = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'user_id', ARGV[2], 'created_at', ARGV[3], 'last_seen', ARGV[4],
  'idle_expires_at', ARGV[5], 'expires_at', ARGV[6], 'auth_time', ARGV[7], 'amr', ARGV[8],
  'ip', ARGV[9], 'user_agent', ARGV[10])
local expires = tonumber(ARGV[6])
local at = ARGV[5]
if expires < tonumber(at) then at = ARGV[6] end
redis.call('EXPIREAT', KEYS[1], at)
redis.call('SADD', KEYS[2], ARGV[1])
-- -1 (no expiry yet: a new set) is below any deadline too.
if redis.call('EXPIRETIME', KEYS[2]) < expires then redis.call('EXPIREAT', KEYS[2], ARGV[6]) end
return 1
)lua";

// KEYS: session hash. ARGV: now, idle_expires_at. 1 if touched, 0 if absent
// or past either deadline at `now`.
constexpr const char* kTouchScript = R"lua(
local v = redis.call('HMGET', KEYS[1], 'idle_expires_at', 'expires_at')
if not v[1] or not v[2] then return 0 end
local now = tonumber(ARGV[1])
if tonumber(v[1]) <= now or tonumber(v[2]) <= now then return 0 end
local idle = ARGV[2]
if tonumber(idle) > tonumber(v[2]) then idle = v[2] end
redis.call('HSET', KEYS[1], 'last_seen', ARGV[1], 'idle_expires_at', idle)
redis.call('EXPIREAT', KEYS[1], idle)
return 1
)lua";

// KEYS: session hash. ARGV: id_hash, user-set key prefix. 1 if deleted.
constexpr const char* kDeleteScript = R"lua(
local user = redis.call('HGET', KEYS[1], 'user_id')
if not user then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[2] .. user, ARGV[1])
return 1
)lua";

// KEYS: user set. ARGV: id_hash to keep ('' for none), session key prefix.
// The number of session hashes deleted.
constexpr const char* kDeleteUserScript = R"lua(
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id ~= ARGV[1] then
    n = n + redis.call('DEL', ARGV[2] .. id)
    redis.call('SREM', KEYS[1], id)
  end
end
return n
)lua";

// ---- Helpers ----------------------------------------------------------------------

std::string session_key(std::string_view id_hash) {
  return std::string(kSessionKeyPrefix).append(id_hash);
}
std::string user_key(std::string_view user_id) {
  return std::string(kUserKeyPrefix).append(user_id);
}

bool live(const Session& s, Seconds now) { return s.idle_expires_at > now && s.expires_at > now; }

std::string_view text(const redisReply* r) { return {r->str, r->len}; }

Result<std::int64_t> integer_reply(const Reply& r, std::string_view what) {
  if (r->type != REDIS_REPLY_INTEGER) {
    spdlog::warn("redis: {}: unexpected reply type {}", what, r->type);
    return fail(StoreError::Internal);
  }
  return static_cast<std::int64_t>(r->integer);
}

bool parse_seconds(std::string_view s, Seconds& out) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return false;
  out = Seconds{std::chrono::seconds{v}};
  return true;
}

// The hash fields: the times, then the texts. All but amr, ip and user_agent
// are required.
constexpr std::pair<std::string_view, Seconds Session::*> kTimeFields[] = {
    {"created_at", &Session::created_at},
    {"last_seen", &Session::last_seen},
    {"idle_expires_at", &Session::idle_expires_at},
    {"expires_at", &Session::expires_at},
    {"auth_time", &Session::auth_time},
};
constexpr std::pair<std::string_view, std::string Session::*> kTextFields[] = {
    {"user_id", &Session::user_id},
    {"amr", &Session::amr},
    {"ip", &Session::ip},
    {"user_agent", &Session::user_agent},
};
constexpr unsigned kRequiredFields = (1U << (std::size(kTimeFields) + 1)) - 1;

// An HGETALL reply as a Session; nullopt for an empty reply (no such key).
// Internal if a required field is missing or a time is not a number.
Result<std::optional<Session>> read_session(const redisReply& r, std::string_view id_hash) {
  if (r.type != REDIS_REPLY_ARRAY || r.elements % 2 != 0) {
    spdlog::warn("redis: HGETALL session: unexpected reply type {}", r.type);
    return fail(StoreError::Internal);
  }
  if (r.elements == 0) return std::nullopt;
  Session s;
  s.id_hash = std::string(id_hash);
  unsigned seen = 0;  // bit i: kTimeFields[i]; the bit after them: user_id
  for (std::size_t i = 0; i + 1 < r.elements; i += 2) {
    const redisReply* k = r.element[i];
    const redisReply* v = r.element[i + 1];
    if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
    const std::string_view field = text(k);
    for (std::size_t f = 0; f < std::size(kTimeFields); ++f) {
      if (field != kTimeFields[f].first) continue;
      if (!parse_seconds(text(v), s.*kTimeFields[f].second)) {
        spdlog::warn("redis: session hash field {} is not a number", field);
        return fail(StoreError::Internal);
      }
      seen |= 1U << f;
    }
    for (const auto& [name, member] : kTextFields) {
      if (field != name) continue;
      s.*member = text(v);
      if (member == &Session::user_id) seen |= 1U << std::size(kTimeFields);
    }
  }
  if (seen != kRequiredFields) {
    spdlog::warn("redis: session hash lacks required fields (have mask {:#x})", seen);
    return fail(StoreError::Internal);
  }
  return s;
}

// ---- The store --------------------------------------------------------------------

class RedisSessionStore final : public SessionStore {
 public:
  explicit RedisSessionStore(std::unique_ptr<Pool> pool) : pool_(std::move(pool)) {}

  // Not retried on a dropped connection: if the first attempt was applied,
  // the retry would report Conflict.
  Status create_session(const Session& s) override {
    return pool_->run(kWrite, [&](Connection& c) -> Status {
      Args args{"EVAL",    kCreateScript, "2", session_key(s.id_hash), user_key(s.user_id),
                s.id_hash, s.user_id};
      args.add(s.created_at).add(s.last_seen).add(s.idle_expires_at).add(s.expires_at);
      args.add(s.auth_time).add(s.amr).add(s.ip).add(s.user_agent);
      auto r = c.command(args, "create session script");
      if (!r) return fail(r.error());
      auto created = integer_reply(*r, "create session script");
      if (!created) return fail(created.error());
      if (*created == 0) return fail(StoreError::Conflict);
      return {};
    });
  }

  Result<Session> find_session(std::string_view id_hash, Seconds now) override {
    return pool_->run(kIdempotent, [&](Connection& c) -> Result<Session> {
      auto r = c.command({"HGETALL", session_key(id_hash)}, "HGETALL session");
      if (!r) return fail(r.error());
      auto s = read_session(**r, id_hash);
      if (!s) return fail(s.error());
      if (!*s || !live(**s, now)) return fail(StoreError::NotFound);
      return std::move(**s);
    });
  }

  // Retrying is safe: the same values again, and a session the first attempt
  // kept alive is still alive at the same `now`.
  Status touch_session(std::string_view id_hash, Seconds now, Seconds idle_expires_at) override {
    return pool_->run(kIdempotent, [&](Connection& c) -> Status {
      Args args{"EVAL", kTouchScript, "1", session_key(id_hash)};
      args.add(now).add(idle_expires_at);
      auto r = c.command(args, "touch session script");
      if (!r) return fail(r.error());
      auto touched = integer_reply(*r, "touch session script");
      if (!touched) return fail(touched.error());
      if (*touched == 0) return fail(StoreError::NotFound);
      return {};
    });
  }

  Status delete_session(std::string_view id_hash) override {
    return pool_->run(kIdempotent, [&](Connection& c) -> Status {
      auto r =
          c.command({"EVAL", kDeleteScript, "1", session_key(id_hash), id_hash, kUserKeyPrefix},
                    "delete session script");
      if (!r) return fail(r.error());
      if (auto n = integer_reply(*r, "delete session script"); !n) return fail(n.error());
      return {};
    });
  }

  // SMEMBERS, then every HGETALL in one pipelined round trip.
  Result<std::vector<Session>> list_user_sessions(std::string_view user_id, Seconds now) override {
    return pool_->run(kIdempotent, [&](Connection& c) -> Result<std::vector<Session>> {
      const std::string set = user_key(user_id);
      auto members = c.command({"SMEMBERS", set}, "SMEMBERS user sessions");
      if (!members) return fail(members.error());
      if ((*members)->type != REDIS_REPLY_ARRAY) {
        spdlog::warn("redis: SMEMBERS user sessions: unexpected reply type {}", (*members)->type);
        return fail(StoreError::Internal);
      }
      std::vector<std::string> ids;
      ids.reserve((*members)->elements);
      for (std::size_t i = 0; i < (*members)->elements; ++i) {
        const redisReply* m = (*members)->element[i];
        if (m->type == REDIS_REPLY_STRING) ids.emplace_back(text(m));
      }
      for (const auto& id : ids) {
        if (auto queued = c.append({"HGETALL", session_key(id)}, "HGETALL session"); !queued) {
          c.abandon();
          return fail(queued.error());
        }
      }
      std::vector<Session> out;
      std::vector<std::string_view> gone;  // expired or deleted: drop from the set
      std::optional<Error> first_error;
      for (const auto& id : ids) {
        auto r = c.get_reply("HGETALL session");
        // An error reply: keep reading, so the connection stays in step;
        // a lost connection has no more replies to read.
        if (!r && c.broken()) return fail(r.error());
        if (!r) {
          first_error = first_error.value_or(r.error());
          continue;
        }
        auto s = read_session(**r, id);
        if (!s) {
          first_error = first_error.value_or(s.error());
        } else if (!*s) {
          gone.push_back(id);
        } else if ((*s)->user_id == user_id && live(**s, now)) {
          out.push_back(std::move(**s));
        }
      }
      if (first_error) return fail(*first_error);
      if (!gone.empty()) {
        // Housekeeping only: the listing is right either way, so a failure
        // here (already logged) does not fail it.
        Args srem{"SREM", set};
        for (const auto id : gone) srem.add(id);
        (void)c.command(srem, "SREM gone sessions");
      }
      std::sort(out.begin(), out.end(), [](const Session& a, const Session& b) {
        return a.created_at != b.created_at ? a.created_at > b.created_at : a.id_hash < b.id_hash;
      });
      return out;
    });
  }

  // Not retried: after an applied first attempt the retry would count 0.
  Result<std::int64_t> delete_user_sessions(std::string_view user_id,
                                            std::string_view keep_id_hash) override {
    return pool_->run(kWrite, [&](Connection& c) -> Result<std::int64_t> {
      auto r = c.command(
          {"EVAL", kDeleteUserScript, "1", user_key(user_id), keep_id_hash, kSessionKeyPrefix},
          "delete user sessions script");
      if (!r) return fail(r.error());
      return integer_reply(*r, "delete user sessions script");
    });
  }

  // Redis deletes expired sessions itself (EXPIREAT).
  Result<std::int64_t> purge_sessions(Seconds /*now*/) override { return 0; }

  Status ping_sessions() override {
    return pool_->run(kIdempotent, [&](Connection& c) -> Status {
      auto r = c.command({"PING"}, "PING");
      if (!r) return fail(r.error());
      return {};
    });
  }

 private:
  std::unique_ptr<Pool> pool_;
};

// EXPIRETIME, which the create script needs, is new in Redis 7.0: fail at
// startup rather than on the first login.
Status check_server(Pool& pool) {
  return pool.run(kIdempotent, [&](Connection& c) -> Status {
    auto r = c.command({"COMMAND", "INFO", "EXPIRETIME"}, "COMMAND INFO");
    if (!r) return fail(r.error());
    const redisReply& reply = **r;
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 1 ||
        reply.element[0]->type != REDIS_REPLY_ARRAY) {
      spdlog::error("redis: the server lacks EXPIRETIME; the session store needs Redis >= 7.0");
      return fail(StoreError::Unavailable);
    }
    return {};
  });
}

}  // namespace
}  // namespace redis

Result<std::unique_ptr<SessionStore>> open_redis_session_store(std::string_view url,
                                                               std::size_t pool_size) {
  // The URL is never logged or echoed back: it may carry a password.
  auto target = redis::parse_url(url);
  if (!target) return fail(target.error());
  auto pool = redis::Pool::open(std::move(*target), pool_size);
  if (!pool) return fail(pool.error());
  if (auto ok = redis::check_server(**pool); !ok) return fail(ok.error());
  return std::make_unique<redis::RedisSessionStore>(std::move(*pool));
}

}  // namespace gh::store
