#include "core/ratelimit/gcra.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace gh::ratelimit {

const char* describe(PolicyError e) {
  switch (e) {
    case PolicyError::Malformed: return "a rate limit must look like \"10/15m\" or \"10/15m,burst=5\" (units s, m, h, d) or \"off\"";
    case PolicyError::OutOfRange:
      return "a rate limit needs limit and burst in 1..1000000000, a period of 1s..30d, "
             "and at most one request per microsecond";
  }
  return "rate limit policy error";
}
GH_DEFINE_ERROR_CATEGORY(PolicyError, "ratelimit")

namespace {

constexpr std::uint32_t kMaxCount = 1'000'000'000;
constexpr Micros kMinPeriod = std::chrono::seconds{1};
constexpr Micros kMaxPeriod = std::chrono::days{30};
constexpr Micros kMaxTolerance = std::chrono::days{365};

bool parse_u32(std::string_view s, std::uint32_t& out) {
  if (s.empty() || s.size() > 10) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

// "15m" -> 15 minutes; "m" -> 1 minute.
std::optional<Micros> parse_period(std::string_view s) {
  if (s.empty()) return std::nullopt;
  Micros unit{0};
  switch (s.back()) {
    case 's': unit = std::chrono::seconds{1}; break;
    case 'm': unit = std::chrono::minutes{1}; break;
    case 'h': unit = std::chrono::hours{1}; break;
    case 'd': unit = std::chrono::days{1}; break;
    default: return std::nullopt;
  }
  s.remove_suffix(1);
  std::uint32_t n = 1;
  if (!s.empty() && !parse_u32(s, n)) return std::nullopt;
  if (n == 0 || n > 1'000'000) return Micros{0};  // out of range, reported by the caller
  return unit * n;
}

std::string period_text(Micros p) {
  using namespace std::chrono;
  if (p % days{1} == Micros{0}) return fmt::format("{}d", p / days{1});
  if (p % hours{1} == Micros{0}) return fmt::format("{}h", p / hours{1});
  if (p % minutes{1} == Micros{0}) return fmt::format("{}m", p / minutes{1});
  return fmt::format("{}s", duration_cast<seconds>(p).count());
}

// A state with a TAT at or before `now` is the same as no state: at rest.
Time effective_tat(Time now, State state) { return state && *state > now ? *state : now; }

Decision decide(Time now, Time tat, const Policy& p, bool allowed) {
  const Micros t = p.interval();
  const Micros tau = p.tolerance();
  Decision d;
  d.allowed = allowed;
  d.limit = p.burst;
  const Micros ahead = tat - now;  // >= 0
  d.reset_after = ahead;
  if (ahead <= tau) {
    // A next request passes while its TAT stays within τ: count how many fit.
    d.remaining = static_cast<std::uint32_t>((tau - ahead) / t) + 1;
  }
  if (!allowed) d.retry_after = ahead - tau;
  return d;
}

}  // namespace

Micros Policy::interval() const {
  const auto n = static_cast<Micros::rep>(limit);
  return Micros{(period.count() + n - 1) / n};
}

Micros Policy::tolerance() const { return interval() * static_cast<Micros::rep>(burst - 1); }

bool valid(const Policy& p) {
  if (p.limit < 1 || p.limit > kMaxCount || p.burst < 1 || p.burst > kMaxCount) return false;
  if (p.period < kMinPeriod || p.period > kMaxPeriod) return false;
  if (p.period.count() < static_cast<Micros::rep>(p.limit)) return false;  // T >= 1 µs
  // T <= 30 d and burst <= 1e9: the product fits in 64 bits; bound it for Lua's doubles.
  return p.tolerance() <= kMaxTolerance;
}

Result<std::optional<Policy>> parse_policy(std::string_view text) {
  if (text == "off") return std::optional<Policy>{};
  std::string_view rest = text;
  std::optional<std::string_view> burst_text;
  if (const auto comma = rest.find(','); comma != std::string_view::npos) {
    burst_text = rest.substr(comma + 1);
    rest = rest.substr(0, comma);
    if (!burst_text->starts_with("burst=")) return fail(PolicyError::Malformed);
    burst_text->remove_prefix(6);
  }
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return fail(PolicyError::Malformed);
  Policy p;
  const auto period = parse_period(rest.substr(slash + 1));
  if (!parse_u32(rest.substr(0, slash), p.limit) || !period) return fail(PolicyError::Malformed);
  p.period = *period;
  p.burst = p.limit;
  if (burst_text && !parse_u32(*burst_text, p.burst)) return fail(PolicyError::Malformed);
  if (!valid(p)) return fail(PolicyError::OutOfRange);
  return std::optional<Policy>{p};
}

std::string format_policy(const Policy& p) {
  std::string s = fmt::format("{}/{}", p.limit, period_text(p.period));
  if (p.burst != p.limit) s += fmt::format(",burst={}", p.burst);
  return s;
}

Step acquire(Time now, State state, const Policy& p) {
  const Time tat = effective_tat(now, state);
  if (tat - now > p.tolerance()) {
    return {decide(now, tat, p, false), tat > now ? State{tat} : State{}};
  }
  const Time next = tat + p.interval();
  return {decide(now, next, p, true), State{next}};
}

Decision peek(Time now, State state, const Policy& p) {
  const Time tat = effective_tat(now, state);
  const bool allowed = tat - now <= p.tolerance();
  // What the client would see after this request: one fewer remaining if it passes.
  return decide(now, allowed ? tat + p.interval() : tat, p, allowed);
}

State refund(Time now, State state, const Policy& p) {
  if (!state || *state <= now) return std::nullopt;
  const Time back = *state - p.interval();
  if (back <= now) return std::nullopt;
  return back;
}

std::int64_t ceil_seconds(Micros d) {
  if (d <= Micros{0}) return 0;
  return (d.count() + 999'999) / 1'000'000;
}

}  // namespace gh::ratelimit
