// Clock: where time comes from. Only SystemClock reads the real clock; tests
// use FakeClock and advance it instead of sleeping.
#pragma once

#include <chrono>
#include <atomic>
#include <string>

namespace gh {

using Seconds = std::chrono::sys_seconds;

struct Clock {
  virtual ~Clock() = default;
  [[nodiscard]] virtual Seconds now() const = 0;
};

struct SystemClock final : Clock {
  [[nodiscard]] Seconds now() const override;
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Seconds start = Seconds{std::chrono::seconds{1'900'000'000}}) : t_(start.time_since_epoch().count()) {}
  [[nodiscard]] Seconds now() const override { return Seconds{std::chrono::seconds{t_.load()}}; }
  void advance(std::chrono::seconds d) { t_ += d.count(); }
  void set(Seconds t) { t_ = t.time_since_epoch().count(); }

 private:
  std::atomic<std::int64_t> t_;
};

// RFC 3339 UTC, e.g. "2026-11-24T12:00:00Z".
[[nodiscard]] std::string to_rfc3339(Seconds t);

}  // namespace gh
