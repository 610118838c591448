// GCRA: the rate-limit algorithm (Generic Cell Rate Algorithm, ITU-T I.371
// "virtual scheduling"), pure logic: no clock, no I/O. The caller passes the
// current time and the key's state in, and stores the state that comes out.
//
// Why GCRA and not a sliding window:
// - The whole state of a key is one number, its "theoretical arrival time"
//   (TAT): when the key would be back at rest if requests came at exactly the
//   policy's rate. One integer per key is cheap in memory and is one Redis
//   string (GET + SET in one Lua script: one round trip, atomic).
// - It is exact: no buckets, no interpolation between windows (a sliding
//   window *counter* estimates; a sliding window *log* is exact but keeps one
//   entry per request, O(limit) memory and work per key).
// - O(1) per decision, and it yields everything the IETF RateLimit headers
//   need: remaining, reset, retry-after.
// - A refused request does not change the state, so a client that keeps
//   hammering is refused no longer than one that waits (it gets in again as
//   soon as the rate allows), and a refusal is never "extended" by retries.
//
// Policy "limit per period, burst": requests are spaced T = period / limit
// apart on average (the emission interval); up to `burst` of them may come back
// to back from rest (the tolerance is τ = T × (burst − 1)). burst defaults to
// limit, so "10/15m" allows 10 at once, then one more every 90 s. Over any
// window of one period a client therefore gets at most burst + limit − 1
// requests (19 for "10/15m" — no more than a fixed 15-minute window, which
// allows 2 × limit across a window boundary); a lower burst tightens that.
//
// Time is in microseconds (std::chrono); T is rounded *up* to a whole
// microsecond, which can only make a policy stricter, by under 1 µs per request.
// The Redis backend runs the same arithmetic in Lua (doubles): every value
// here stays below 2^53 (policies are bounded by parse_policy / valid()).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace gh::ratelimit {

using Micros = std::chrono::microseconds;
using Time = std::chrono::sys_time<Micros>;

enum class PolicyError : std::uint8_t {
  Malformed = 1,  // not "LIMIT/PERIOD" or "LIMIT/PERIOD,burst=B" (or "off")
  OutOfRange,     // limit, period or burst outside the bounds documented at parse_policy
};
GH_DECLARE_ERROR_CATEGORY(PolicyError)

struct Policy {
  std::uint32_t limit = 1;     // requests per period, >= 1
  Micros period{1'000'000};    // >= 1 s
  std::uint32_t burst = 1;     // requests allowed back to back from rest, >= 1

  // T = ceil(period / limit): the spacing of requests at the sustained rate.
  [[nodiscard]] Micros interval() const;
  // τ = T × (burst − 1): how far ahead of `now` the TAT may be for a request to pass.
  [[nodiscard]] Micros tolerance() const;
  friend bool operator==(const Policy&, const Policy&) = default;
};

// Parses a policy: "10/15m", "60/1m", "60/m", "5/1h", "1000/1d", "30/30s",
// optionally with ",burst=B" ("10/15m,burst=3"). Units s, m, h, d. Bounds:
// limit and burst 1..1,000,000,000; period 1 s..30 d; period / limit >= 1 µs;
// T × (burst − 1) <= 365 d. "off" parses to nullopt (the limit is disabled).
// Errors: Malformed, OutOfRange.
[[nodiscard]] Result<std::optional<Policy>> parse_policy(std::string_view text);
// The canonical text of a policy ("10/15m"; ",burst=B" when burst != limit).
[[nodiscard]] std::string format_policy(const Policy& p);
// True if `p` is within parse_policy's bounds (backends rely on this).
[[nodiscard]] bool valid(const Policy& p);

// What a decision tells the client (the IETF RateLimit header fields).
struct Decision {
  bool allowed = false;
  std::uint32_t limit = 0;      // the policy's burst: the most requests available at once
  std::uint32_t remaining = 0;  // requests that would pass right after this one
  Micros reset_after{0};        // until the key is back at rest (all `limit` available)
  Micros retry_after{0};        // refused: until a request would pass; allowed: 0
};

// One key's state after a step: its TAT, or nullopt when it is at rest (a
// state equal to "never seen", which a backend may simply delete).
using State = std::optional<Time>;

struct Step {
  Decision decision;
  State state;  // to store; unchanged when the request was refused
};

// Counts one request at `now` against a key in `state`: allowed iff the TAT is
// at most τ ahead of now; then the TAT moves T further. A refused request
// leaves the state as it was (normalised: a past TAT is "at rest").
// REQUIRES: valid(p).
[[nodiscard]] Step acquire(Time now, State state, const Policy& p);

// The decision acquire() would make, without counting anything.
[[nodiscard]] Decision peek(Time now, State state, const Policy& p);

// Gives one request back (the attempt turned out not to count, e.g. a
// successful login on a limit meant for failures): the TAT moves T back, but
// never below now. REQUIRES: valid(p).
[[nodiscard]] State refund(Time now, State state, const Policy& p);

// Whole seconds for a header: rounded up, so a client that waits that long is
// not refused again for a fraction of a second.
[[nodiscard]] std::int64_t ceil_seconds(Micros d);

}  // namespace gh::ratelimit

template <>
struct std::is_error_code_enum<gh::ratelimit::PolicyError> : std::true_type {};
