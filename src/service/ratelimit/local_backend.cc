// The in-process limiter backend: a sharded hash map from key to TAT.
#include <algorithm>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/base/string_hash.h"
#include "service/ratelimit/limiter_backend.h"

namespace gh::service {
namespace {

using ratelimit::Time;

class LocalBackend final : public LimiterBackend {
 public:
  explicit LocalBackend(LocalOptions o) {
    const std::size_t n = std::max<std::size_t>(1, o.shards);
    per_shard_ = std::max<std::size_t>(8, o.max_keys / n);
    for (std::size_t i = 0; i < n; ++i) shards_.push_back(std::make_unique<Shard>());
  }

  Result<ratelimit::Step> acquire(std::string_view key, const ratelimit::Policy& p, Time now) override {
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    const ratelimit::State before = it != s.map.end() ? ratelimit::State{it->second} : std::nullopt;
    ratelimit::Step step = ratelimit::acquire(now, before, p);
    store(s, it, key, step.state, now);
    return step;
  }

  Status refund(std::string_view key, const ratelimit::Policy& p, Time now) override {
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return {};
    store(s, it, key, ratelimit::refund(now, it->second, p), now);
    return {};
  }

  bool blocking() const override { return false; }
  std::string_view name() const override { return "local"; }
  Status ping() override { return {}; }

  void prune(Time now) override {
    for (auto& s : shards_) {
      std::lock_guard lock(s->mu);
      std::erase_if(s->map, [now](const auto& kv) { return kv.second <= now; });
    }
  }

  std::size_t size() const override {
    std::size_t n = 0;
    for (const auto& s : shards_) {
      std::lock_guard lock(s->mu);
      n += s->map.size();
    }
    return n;
  }

 private:
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Time, StringHash, std::equal_to<>> map;  // GUARDED_BY(mu)
  };
  using Iter = std::unordered_map<std::string, Time, StringHash, std::equal_to<>>::iterator;

  Shard& shard_for(std::string_view key) { return *shards_[StringHash{}(key) % shards_.size()]; }

  // Writes `state` for `key` (`it` is its entry or end()); a key at rest is dropped.
  // REQUIRES: s.mu held.
  void store(Shard& s, Iter it, std::string_view key, const ratelimit::State& state, Time now) {
    if (!state) {
      if (it != s.map.end()) s.map.erase(it);
      return;
    }
    if (it != s.map.end()) {
      it->second = *state;
      return;
    }
    if (s.map.size() >= per_shard_) make_room(s, now);
    s.map.emplace(std::string(key), *state);
  }

  // Bounded memory: drop keys at rest; if the shard is still over 7/8 full,
  // evict the keys whose TAT is nearest (they would be at rest soonest, so
  // forgetting them gives the least away). Amortised O(1): it runs only when
  // the shard is full and leaves it at most 7/8 full. REQUIRES: s.mu held.
  void make_room(Shard& s, Time now) {
    std::erase_if(s.map, [now](const auto& kv) { return kv.second <= now; });
    const std::size_t target = per_shard_ - per_shard_ / 8;
    if (s.map.size() <= target) return;
    std::vector<Time> tats;
    tats.reserve(s.map.size());
    for (const auto& kv : s.map) tats.push_back(kv.second);
    std::size_t excess = s.map.size() - target;
    std::nth_element(tats.begin(), tats.begin() + static_cast<std::ptrdiff_t>(excess - 1), tats.end());
    const Time cut = tats[excess - 1];
    for (auto it = s.map.begin(); it != s.map.end() && excess > 0;) {
      if (it->second <= cut) {
        it = s.map.erase(it);
        --excess;
      } else {
        ++it;
      }
    }
  }

  std::size_t per_shard_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace

std::unique_ptr<LimiterBackend> make_local_backend(LocalOptions options) {
  return std::make_unique<LocalBackend>(options);
}

}  // namespace gh::service
