// FormGuard: CSRF protection for the forms a browser posts before it has a
// session (sign in, register) — "login CSRF". A signed double-submit token:
// the browser gets a random nonce in a short-lived HttpOnly __Host- cookie and
// the form carries HMAC(server key, nonce). A cross-site page can neither read
// that cookie nor compute the HMAC, and cannot plant a __Host- cookie from a
// sibling subdomain. Forms of a signed-in person use the session's own CSRF
// token instead (SessionService). Thread-safe; no storage.
#pragma once

#include <string>
#include <string_view>

#include "core/base/clock.h"
#include "core/base/random.h"
#include "core/base/secret.h"
#include "core/crypto/seal.h"

namespace gh::service {

class FormGuard {
 public:
  FormGuard(const crypto::Kek& kek, Random& rng);

  struct Issued {
    std::string nonce;  // for the cookie
    std::string token;  // for the hidden form field
  };
  // A fresh nonce and its token.
  [[nodiscard]] Issued issue();
  // The token for an existing nonce (re-rendering a form keeps the cookie).
  [[nodiscard]] std::string token_for(std::string_view nonce) const;
  // True if `token` was made for `nonce` by this server (constant time).
  [[nodiscard]] bool check(std::string_view nonce, std::string_view token) const;

 private:
  Random& rng_;
  SecretString key_;
};

// KnownDevices: the "device cookie" that lets an account's owner sign in
// while the account is locked for everyone else (core/account/lockout.h). A
// browser that signed in successfully gets `nonce.issued.HMAC(key, account |
// nonce | issued)`; presenting it later for the same account, within
// kLifetime of `issued`, marks the attempt as coming from a known device.
// Bound to the account (normalised email), unforgeable without the server
// key, expiring on the server's clock, no storage.
class KnownDevices {
 public:
  static constexpr std::chrono::seconds kLifetime{180LL * 24 * 3600};
  KnownDevices(const crypto::Kek& kek, Random& rng, const Clock& clock);
  // A fresh device token for `account`.
  [[nodiscard]] std::string issue(std::string_view account);
  // True if `token` was issued by this server for `account` (constant time).
  [[nodiscard]] bool check(std::string_view account, std::string_view token) const;

 private:
  [[nodiscard]] std::string mac(std::string_view account, std::string_view nonce, std::string_view issued) const;
  Random& rng_;
  const Clock& clock_;
  SecretString key_;
};

}  // namespace gh::service
