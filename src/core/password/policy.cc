#include "core/password/policy.h"

#include <crack.h>
#include <sodium.h>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "core/base/encoding.h"
#include "core/password/lists.h"

namespace gh::password {

const char* describe(PolicyError e) {
  switch (e) {
    case PolicyError::InvalidEncoding:
      return "the password is not valid UTF-8 or contains control characters";
    case PolicyError::TooShort:
      return "the password is too short";
    case PolicyError::TooLong:
      return "the password is too long";
    case PolicyError::Common:
      return "the password is too common";
    case PolicyError::Breached:
      return "the password appears in a data breach";
    case PolicyError::Guessable:
      return "the password is too easy to guess";
    case PolicyError::ContextSpecific:
      return "the password is based on the service name or your own details";
    case PolicyError::ListUnreadable:
      return "a password list file cannot be read";
  }
  return "unknown password policy error";
}
GH_DEFINE_ERROR_CATEGORY(PolicyError, "password.policy")

namespace {

using detail::lower_case;

constexpr std::size_t kMinAllowedLength = 8;
// cracklib was built for 6-12 character Unix passwords: on long passphrases
// it finds a "dictionary word" in almost anything, so only short ones go to it.
constexpr std::size_t kCracklibMaxCodePoints = 20;
constexpr std::size_t kMinContextToken = 4;  // shorter names/local parts match too much
constexpr std::size_t kMinCommonCore = 3;    // "a", "aa" are listed; a core that short says nothing
// "abcabc..." is a pattern (Guessable), not a listed word repeated (Common).
constexpr std::size_t kMinRepeatedUnit = 4;

// A mutable std::string of password-derived bytes, wiped when it goes out of scope.
struct Scratch {
  std::string s;
  Scratch() = default;
  explicit Scratch(std::string v) : s(std::move(v)) {}
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { gh::wipe(s); }
};

// Code points of a password, wiped when it goes out of scope.
struct CodePoints {
  std::vector<char32_t> v;
  CodePoints() = default;
  CodePoints(const CodePoints&) = delete;
  CodePoints& operator=(const CodePoints&) = delete;
  ~CodePoints() {
    if (!v.empty()) sodium_memzero(v.data(), v.size() * sizeof(char32_t));
  }
};

bool is_ascii_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_alnum(unsigned char c) { return is_ascii_alpha(c) || (c >= '0' && c <= '9'); }

std::size_t count_code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void decode(std::string_view s, CodePoints& out) {
  out.v.reserve(s.size());  // never reallocates: no unwiped copy is left behind
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  auto left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {  // not reached for normalised input; keep the byte so nothing is skipped
      cp = *p;
      n = 1;
    }
    out.v.push_back(static_cast<char32_t>(cp));
    p += n;
    left -= n;
  }
}

// Drops leading and trailing ASCII digits, symbols and spaces: "!!password1234" -> "password".
std::string_view strip_padding(std::string_view s) {
  const auto pad = [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x80 && !is_ascii_alpha(u);
  };
  while (!s.empty() && pad(s.front())) s.remove_prefix(1);
  while (!s.empty() && pad(s.back())) s.remove_suffix(1);
  return s;
}

// The smallest period of s if s is that unit repeated whole, else s.size() (KMP prefix function).
template <class Seq>
std::size_t smallest_period(const Seq& s) {
  const std::size_t n = s.size();
  if (n == 0) return 0;
  std::vector<std::size_t> pi(n, 0);
  for (std::size_t i = 1; i < n; ++i) {
    std::size_t k = pi[i - 1];
    while (k > 0 && s[i] != s[k]) k = pi[k - 1];
    if (s[i] == s[k]) ++k;
    pi[i] = k;
  }
  const std::size_t p = n - pi[n - 1];
  return n % p == 0 ? p : n;
}

// Undoes the usual look-alike substitutions ("p@ssw0rd" -> "password").
std::string unleet(std::string_view s, char one_as) {
  std::string out(s);
  for (char& c : out) {
    switch (c) {
      case '0':
        c = 'o';
        break;
      case '1':
        c = one_as;
        break;
      case '3':
        c = 'e';
        break;
      case '4':
      case '@':
        c = 'a';
        break;
      case '5':
      case '$':
        c = 's';
        break;
      case '7':
        c = 't';
        break;
      case '!':
        c = 'i';
        break;
      default:
        break;
    }
  }
  return out;
}

bool keyboard_adjacent(char32_t a, char32_t b) {
  static constexpr std::array<std::string_view, 8> kRows = {
      "`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'",  "zxcvbnm,./",
      "~!@#$%^&*()_+", "qwertyuiop{}|",  "asdfghjkl:\"", "zxcvbnm<>?"};
  if (a >= 0x80 || b >= 0x80) return false;
  for (std::string_view row : kRows) {
    const auto i = row.find(static_cast<char>(a));
    if (i == std::string_view::npos) continue;
    if ((i + 1 < row.size() && row[i + 1] == static_cast<char>(b)) ||
        (i > 0 && row[i - 1] == static_cast<char>(b))) {
      return true;
    }
  }
  return false;
}

// Whether b is what a guesser would try after a: the same character, the next
// or previous letter/digit (wrapping 9->0, z->a), or a neighbouring key.
bool predictable_step(char32_t a, char32_t b) {
  if (a == b) return true;
  const auto cyclic = [&](char32_t lo, char32_t count) {
    if (a < lo || a >= lo + count || b < lo || b >= lo + count) return false;
    const char32_t up = (a - lo + 1) % count, down = (a - lo + count - 1) % count;
    return b - lo == up || b - lo == down;
  };
  return cyclic(U'0', 10) || cyclic(U'a', 26) || keyboard_adjacent(a, b);
}

void append_tokens(std::string_view lower, std::vector<std::string>& out) {
  std::size_t start = 0;
  for (std::size_t i = 0; i <= lower.size(); ++i) {
    if (i < lower.size() && (is_ascii_alnum(static_cast<unsigned char>(lower[i])) ||
                             static_cast<unsigned char>(lower[i]) >= 0x80)) {
      continue;
    }
    if (count_code_points(lower.substr(start, i - start)) >= kMinContextToken) {
      out.emplace_back(lower.substr(start, i - start));
    }
    start = i + 1;
  }
}

PolicyConfig clamped(PolicyConfig c) {
  c.min_length = std::max(c.min_length, kMinAllowedLength);
  c.max_length = std::max(c.max_length, c.min_length);
  return c;
}

bool cracklib_dict_exists(const PolicyConfig& c) {
  std::error_code ec;
  return c.use_cracklib && !c.cracklib_dict.empty() &&
         std::filesystem::exists(c.cracklib_dict + ".pwd", ec);
}

// cracklib keeps static state and is not thread-safe: one caller at a time.
std::mutex& cracklib_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

Result<SecretString> normalize_password(std::string_view raw) {
  if (!is_valid_utf8(raw)) {
    return fail(PolicyError::InvalidEncoding, "the password is not valid UTF-8");
  }
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    // C0 controls (NUL included) and DEL; C1 controls are U+0080..U+009F, i.e. C2 80..C2 9F.
    const bool c1 =
        c == 0xC2 && i + 1 < raw.size() && static_cast<unsigned char>(raw[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7F || c1) {
      return fail(PolicyError::InvalidEncoding, "the password contains a control character");
    }
  }
  if (raw.empty()) return SecretString{};
  // utf8proc_map with exactly utf8proc_NFKC's options minus NULLTERM: it takes a
  // length (no NUL-terminated copy of the password) and returns the result's size.
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(raw.data()),
      static_cast<utf8proc_ssize_t>(raw.size()), &out,
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
  if (n < 0 || out == nullptr) {
    std::free(out);
    return fail(PolicyError::InvalidEncoding, "the password cannot be normalised");
  }
  SecretString result(
      std::string_view(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n)));
  sodium_memzero(out, static_cast<std::size_t>(n));
  std::free(out);
  return result;
}

Result<std::shared_ptr<const PasswordPolicy>> PasswordPolicy::load(const PolicyConfig& config) {
  std::shared_ptr<PasswordPolicy> policy(new PasswordPolicy(clamped(config)));
  const PolicyConfig& c = policy->config_;
  if (!c.common_list.empty() && !detail::read_common_list(c.common_list, policy->common_)) {
    return fail(PolicyError::ListUnreadable,
                fmt::format("cannot read the common-password list {}", c.common_list));
  }
  if (!c.blocklist_file.empty() &&
      !detail::read_blocklist(c.blocklist_file, policy->blocked_sha1_prefixes_)) {
    return fail(PolicyError::ListUnreadable,
                fmt::format("cannot read the password blocklist {}", c.blocklist_file));
  }
  detail::sort_unique(policy->common_);
  detail::sort_unique(policy->blocked_sha1_prefixes_);
  policy->cracklib_ready_ = cracklib_dict_exists(c);
  return std::shared_ptr<const PasswordPolicy>(std::move(policy));
}

// The by-value parameters are the header's signature.
// NOLINTBEGIN(performance-unnecessary-value-param)
std::shared_ptr<const PasswordPolicy> PasswordPolicy::from_lists_for_test(
    const PolicyConfig& config, std::vector<std::string> common, std::vector<std::string> blocked) {
  // NOLINTEND(performance-unnecessary-value-param)
  std::shared_ptr<PasswordPolicy> policy(new PasswordPolicy(clamped(config)));
  for (std::string& entry : common) entry = lower_case(entry);
  policy->common_ = std::move(common);
  detail::Sha1Prefix sha1;
  for (const std::string& entry : blocked) {
    detail::add_blocklist_entry(entry, sha1, policy->blocked_sha1_prefixes_);
  }
  detail::sort_unique(policy->common_);
  detail::sort_unique(policy->blocked_sha1_prefixes_);
  policy->cracklib_ready_ = cracklib_dict_exists(policy->config_);
  return policy;
}

std::size_t PasswordPolicy::common_count() const { return common_.size(); }

namespace {

bool listed(const std::vector<std::string>& common, std::string_view word) {
  return std::binary_search(common.begin(), common.end(), word, std::less<>{});
}

// NIST SP 800-63B compares the whole value: a passphrase that merely contains
// a listed word is fine, a listed word with padding, look-alikes or repetition is not.
std::optional<std::string_view> common_reason(const std::vector<std::string>& common,
                                              std::string_view lower) {
  if (listed(common, lower)) return "is on a list of commonly used passwords";
  const std::string_view core = strip_padding(lower);
  if (core.size() >= kMinCommonCore && core.size() < lower.size() && listed(common, core)) {
    return "is a commonly used password with digits or symbols added";
  }
  for (const std::string_view v : {lower, core}) {
    const std::string_view unit = v.substr(0, smallest_period(v));
    if (unit.size() < v.size() && unit.size() >= kMinRepeatedUnit &&
        (listed(common, unit) || listed(common, strip_padding(unit)))) {
      return "is a commonly used password repeated";
    }
  }
  for (const char one_as : {'i', 'l'}) {
    const Scratch plain(unleet(core, one_as));
    if (plain.s != core && plain.s.size() >= kMinCommonCore && listed(common, plain.s)) {
      return "is a commonly used password with look-alike digits or symbols";
    }
  }
  return std::nullopt;
}

// Rejects the user's own identifiers anywhere in the password, and a password
// that is mostly the product name or pieces of those identifiers plus padding.
std::optional<std::string_view> context_reason(const std::vector<std::string>& product_words,
                                               std::string_view lower, const PolicyContext& ctx) {
  constexpr std::string_view kUserReason = "is based on your email address or name";
  const std::size_t at = ctx.email.rfind('@');
  const std::string local =
      lower_case(at == std::string_view::npos ? ctx.email : ctx.email.substr(0, at));
  const std::string name = lower_case(ctx.name);
  for (const std::string& whole : {local, name}) {
    if (count_code_points(whole) >= kMinContextToken &&
        lower.find(whole) != std::string_view::npos) {
      return kUserReason;
    }
  }
  std::vector<std::string> user_tokens;
  append_tokens(local, user_tokens);
  append_tokens(name, user_tokens);

  Scratch rest{std::string(lower)};
  bool user_hit = false;
  bool any_hit = false;
  const auto remove_all = [&](const std::string& token) {
    bool hit = false;
    for (std::size_t pos; !token.empty() && (pos = rest.s.find(token)) != std::string::npos;) {
      rest.s.erase(pos, token.size());
      hit = true;
    }
    return hit;
  };
  for (const std::string& w : product_words) any_hit |= remove_all(lower_case(w));
  for (const std::string& t : user_tokens) {
    const bool hit = remove_all(t);
    user_hit |= hit;
    any_hit |= hit;
  }
  if (!any_hit) return std::nullopt;
  // Non-ASCII counts as a letter: it adds guessing work the way letters do.
  const auto letters = std::count_if(rest.s.begin(), rest.s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return is_ascii_alpha(u) || (u & 0xC0) == 0xC0;
  });
  const bool mostly = (lower.size() - rest.s.size()) * 2 >= lower.size() || letters < 4;
  if (!mostly) return std::nullopt;
  return user_hit ? kUserReason : "is based on the name of this service";
}

std::optional<std::string_view> pattern_reason(std::string_view lower) {
  CodePoints cps;
  decode(lower, cps);
  const std::size_t n = cps.v.size();
  if (n < 2) return std::nullopt;
  const std::size_t period = smallest_period(cps.v);
  if (period < n && (period <= 4 || period * 3 <= n)) return "repeats a short pattern";
  std::size_t unpredictable = 0;
  for (std::size_t i = 1; i < n; ++i) {
    unpredictable += predictable_step(cps.v[i - 1], cps.v[i]) ? 0 : 1;
  }
  // At most one surprise in five steps: "qwertyuiop123", "123456789012345", "abcdefghijklmnop".
  if (unpredictable * 5 <= n - 1) {
    return "is a sequence of consecutive characters or neighbouring keys";
  }
  return std::nullopt;
}

}  // namespace

Status PasswordPolicy::check(const SecretString& normalized, const PolicyContext& ctx) const {
  const std::string_view pw = normalized.expose();
  const std::size_t length = count_code_points(pw);
  if (length < config_.min_length) {
    return fail(PolicyError::TooShort,
                fmt::format("must be at least {} characters", config_.min_length));
  }
  if (length > config_.max_length) {
    return fail(PolicyError::TooLong,
                fmt::format("must be at most {} characters", config_.max_length));
  }
  const Scratch lower(lower_case(pw));
  if (const auto why = common_reason(common_, lower.s)) {
    return fail(PolicyError::Common, std::string(*why));
  }

  if (!blocked_sha1_prefixes_.empty()) {
    detail::Sha1Prefix sha1;
    // HIBP hashes the password exactly as typed, so the case is kept here.
    const auto key = sha1.of(pw);
    if (key &&
        std::binary_search(blocked_sha1_prefixes_.begin(), blocked_sha1_prefixes_.end(), *key)) {
      return fail(PolicyError::Breached, "appears in a list of passwords exposed in data breaches");
    }
  }
  if (const auto why = context_reason(config_.context_words, lower.s, ctx)) {
    return fail(PolicyError::ContextSpecific, std::string(*why));
  }
  if (const auto why = pattern_reason(lower.s)) {
    return fail(PolicyError::Guessable, std::string(*why));
  }

  if (cracklib_ready_ && length < kCracklibMaxCodePoints) {
    const Scratch candidate{std::string(pw)};
    const std::size_t at = ctx.email.rfind('@');
    // Without a user, cracklib would look up the server's own Unix account.
    // A control character never matches a (control-free) password.
    const std::string_view local =
        at == std::string_view::npos ? ctx.email : ctx.email.substr(0, at);
    const std::string user(local.empty() ? std::string_view("\x01") : local);
    const std::string gecos(ctx.name);
    const char* msg = nullptr;
    {
      const std::lock_guard<std::mutex> lock(cracklib_mutex());
      msg = FascistCheckUser(candidate.s.c_str(), config_.cracklib_dict.c_str(), user.c_str(),
                             gecos.c_str());
    }
    // A dictionary that vanished after load must not reject every short password.
    if (msg != nullptr && std::string_view(msg) != "error loading dictionary") {
      return fail(PolicyError::Guessable, fmt::format("failed the dictionary check: {}", msg));
    }
  }
  return {};
}

}  // namespace gh::password
