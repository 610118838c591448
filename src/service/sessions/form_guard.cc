#include "service/sessions/form_guard.h"

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

KnownDevices::KnownDevices(const crypto::Kek& kek, Random& rng)
    : rng_(rng), key_(kek.derive("gatehouse/known-device/v1")) {}

std::string KnownDevices::mac(std::string_view account, std::string_view nonce) const {
  std::string msg(account);
  msg.push_back('\0');  // an email never contains NUL: no ambiguity between account and nonce
  msg.append(nonce);
  return base64url_encode(crypto::hmac_sha256(key_.expose(), msg));
}

std::string KnownDevices::issue(std::string_view account) {
  std::string nonce = random_token(rng_, 16);
  return nonce + "." + mac(account, nonce);
}

bool KnownDevices::check(std::string_view account, std::string_view token) const {
  const auto dot = token.find('.');
  if (account.empty() || dot != 22 || token.size() > 128) return false;  // 16 bytes of nonce: 22 base64url characters
  return constant_time_equal(mac(account, token.substr(0, dot)), token.substr(dot + 1));
}

}  // namespace gh::service
