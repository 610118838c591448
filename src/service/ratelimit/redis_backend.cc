// The Redis limiter backend: one string per key holding its TAT (microseconds
// since the epoch), read and written by one Lua script, so a step is atomic
// and costs one round trip. The script returns the TAT it found; the decision
// is then computed here by core/ratelimit from that same value, so Redis and
// the local backend answer identically (the script repeats only the state
// update, in the same integer arithmetic: every value stays below 2^53, exact
// in Lua's doubles, and is written back with %d, never %.14g).
//
// Time comes from the caller (the instance's clock, like JWT exp checks), so
// instances need synchronised clocks (NTP); a skew of s seconds shifts a
// key's budget by s, nothing more.
#include <charconv>

#include <spdlog/spdlog.h>

#include "service/ratelimit/limiter_backend.h"
#include "store/redis/redis_client.h"

namespace gh::service {
namespace {

using ratelimit::Time;
namespace redis = store::redis;

// KEYS[1]: the key. ARGV: now, T (interval), tau (tolerance), op ("a" acquire, "r" refund).
// Returns the TAT found before the step ("0": none).
constexpr std::string_view kScript = R"lua(
local now = tonumber(ARGV[1])
local t = tonumber(ARGV[2])
local tau = tonumber(ARGV[3])
local stored = redis.call('GET', KEYS[1])
local before = 0
if stored then before = tonumber(stored) end
local tat = before
if tat < now then tat = now end
local new = nil
if ARGV[4] == 'a' then
  if tat - now <= tau then new = tat + t end
elseif before > now then
  new = before - t
  if new <= now then
    redis.call('DEL', KEYS[1])
    new = nil
  end
end
if new then
  redis.call('SET', KEYS[1], string.format('%d', new), 'PX', string.format('%d', math.ceil((new - now) / 1000)))
end
return string.format('%d', before)
)lua";

std::string key_of(std::string_view key) {
  std::string k = "gh:rl:";
  k += key;
  return k;
}

class RedisBackend final : public LimiterBackend {
 public:
  RedisBackend(std::unique_ptr<redis::Pool> pool, std::string sha) : pool_(std::move(pool)), sha_(std::move(sha)) {}

  Result<ratelimit::Step> acquire(std::string_view key, const ratelimit::Policy& p, Time now) override {
    auto before = run(key, p, now, "a");
    if (!before) return fail(before.error());
    return ratelimit::acquire(now, *before, p);
  }

  Status refund(std::string_view key, const ratelimit::Policy& p, Time now) override {
    auto before = run(key, p, now, "r");
    if (!before) return fail(before.error());
    return {};
  }

  bool blocking() const override { return true; }
  std::string_view name() const override { return "redis"; }

  Status ping() override {
    return pool_->run(redis::kIdempotent, [](redis::Connection& c) -> Status {
      auto r = c.command({"PING"}, "rate limit PING");
      if (!r) return fail(r.error());
      return {};
    });
  }

  void prune(Time) override {}
  std::size_t size() const override { return 0; }

 private:
  // Runs the script; the key's state before the step.
  Result<ratelimit::State> run(std::string_view key, const ratelimit::Policy& p, Time now, std::string_view op) {
    const std::string k = key_of(key);
    const std::string n = std::to_string(now.time_since_epoch().count());
    const std::string t = std::to_string(p.interval().count());
    const std::string tau = std::to_string(p.tolerance().count());
    // Not retried on a new connection: the first attempt may have counted.
    return pool_->run(redis::kWrite, [&](redis::Connection& c) -> Result<ratelimit::State> {
      auto r = c.command({"EVALSHA", sha_, "1", k, n, t, tau, op}, "rate limit EVALSHA");
      if (!r && !c.broken()) {
        // An error reply, most likely NOSCRIPT (Redis restarted or SCRIPT FLUSH):
        // EVAL sends the script and caches it again. Any other error repeats.
        r = c.command({"EVAL", kScript, "1", k, n, t, tau, op}, "rate limit EVAL");
      }
      if (!r) return fail(r.error());
      const redisReply* reply = r->get();
      if (reply->type != REDIS_REPLY_STRING) return fail(store::StoreError::Internal);
      std::int64_t before = 0;
      const auto [end, ec] = std::from_chars(reply->str, reply->str + reply->len, before);
      if (ec != std::errc{} || end != reply->str + reply->len) return fail(store::StoreError::Internal);
      if (before <= 0) return ratelimit::State{};
      return ratelimit::State{Time{ratelimit::Micros{before}}};
    });
  }

  std::unique_ptr<redis::Pool> pool_;
  const std::string sha_;
};

}  // namespace

Result<std::unique_ptr<LimiterBackend>> open_redis_backend(std::string_view url, std::size_t pool_size) {
  auto target = redis::parse_url(url);
  if (!target) return fail(target.error());
  auto pool = redis::Pool::open(std::move(*target), pool_size);
  if (!pool) return fail(pool.error());
  auto sha = (*pool)->run(redis::kIdempotent, [](redis::Connection& c) -> Result<std::string> {
    auto r = c.command({"SCRIPT", "LOAD", kScript}, "rate limit SCRIPT LOAD");
    if (!r) return fail(r.error());
    if ((*r)->type != REDIS_REPLY_STRING) return fail(store::StoreError::Internal);
    return std::string((*r)->str, (*r)->len);
  });
  if (!sha) return fail(sha.error());
  return std::unique_ptr<LimiterBackend>(std::make_unique<RedisBackend>(std::move(*pool), std::move(*sha)));
}

}  // namespace gh::service
