#include "service/sessions/form_guard.h"

#include <algorithm>

#include "core/base/encoding.h"

namespace gh::service {

namespace {
constexpr std::size_t kNonceBytes = 32;
}

FormGuard::FormGuard(const crypto::Kek& kek, Random& rng) : rng_(rng), key_(kek.derive("gatehouse/form-csrf/v1")) {}

FormGuard::Issued FormGuard::issue() {
  std::string nonce = random_token(rng_, kNonceBytes);
  std::string token = token_for(nonce);
  return {std::move(nonce), std::move(token)};
}

std::string FormGuard::token_for(std::string_view nonce) const {
  return base64url_encode(crypto::hmac_sha256(key_.expose(), nonce));
}

bool FormGuard::check(std::string_view nonce, std::string_view token) const {
  // A nonce is 43 base64url characters; anything else was not issued here.
  if (nonce.size() != 43 || token.empty()) return false;
  return constant_time_equal(token_for(nonce), token);
}

KnownDevices::KnownDevices(const crypto::Kek& kek, Random& rng, const Clock& clock)
    : rng_(rng), clock_(clock), key_(kek.derive("gatehouse/known-device/v2")) {}

std::string KnownDevices::mac(std::string_view account, std::string_view nonce, std::string_view issued) const {
  // An email never contains NUL: no ambiguity between the parts.
  std::string msg(account);
  msg.push_back('\0');
  msg.append(nonce);
  msg.push_back('\0');
  msg.append(issued);
  return base64url_encode(crypto::hmac_sha256(key_.expose(), msg));
}

std::string KnownDevices::issue(std::string_view account) {
  std::string nonce = random_token(rng_, 16);
  const std::string issued = std::to_string(clock_.now().time_since_epoch().count());
  return nonce + "." + issued + "." + mac(account, nonce, issued);
}

bool KnownDevices::check(std::string_view account, std::string_view token) const {
  // nonce: 16 bytes = 22 base64url characters; issued: decimal Unix seconds.
  if (account.empty() || token.size() > 128 || token.size() < 24 || token[22] != '.') return false;
  const auto second = token.find('.', 23);
  if (second == std::string_view::npos) return false;
  const std::string_view issued = token.substr(23, second - 23);
  if (issued.empty() || issued.size() > 12 || !std::all_of(issued.begin(), issued.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  if (!constant_time_equal(mac(account, token.substr(0, 22), issued), token.substr(second + 1))) return false;
  const Seconds at{std::chrono::seconds{std::stoll(std::string(issued))}};
  const Seconds now = clock_.now();
  return at <= now + std::chrono::seconds(300) && now - at < kLifetime;
}

}  // namespace gh::service
