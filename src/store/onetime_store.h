// OneTimeTokenStore: single-use secrets sent to a person — password-reset
// links, email-verification links, email-change confirmations, MFA sign-in
// challenges. Only a hash of each token is stored (hex SHA-256 of ≥ 256
// random bits), with its purpose, user, expiry and a small purpose-specific
// payload (e.g. the new email address). Consuming is atomic: of two
// concurrent consumers exactly one gets the token. Deleting a user deletes
// their tokens. Schema version >= 6.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/clock.h"
#include "core/base/result.h"

namespace gh::store {

enum class TokenPurpose : std::uint8_t {
  PasswordReset = 1,
  EmailVerify = 2,
  EmailChange = 3,
  MfaChallenge = 4,
};

struct OneTimeToken {
  std::string hash;  // hex SHA-256 of the token: the key
  TokenPurpose purpose = TokenPurpose::PasswordReset;
  std::string user_id;
  std::string data;  // purpose-specific, e.g. the new email for EmailChange; never a secret
  Seconds created_at{};
  Seconds expires_at{};
};

class OneTimeTokenStore {
 public:
  virtual ~OneTimeTokenStore() = default;

  // Conflict if the hash exists; NotFound if the user does not.
  [[nodiscard]] virtual Status put_token(const OneTimeToken& t) = 0;
  // Takes the token out (it can never be used again) if it exists with this
  // purpose and now < expires_at. NotFound otherwise — unknown, other
  // purpose, already used and expired are one answer.
  [[nodiscard]] virtual Result<OneTimeToken> consume_token(std::string_view hash, TokenPurpose purpose,
                                                           Seconds now) = 0;
  // The same check without consuming (to show a form for a link before it is used).
  [[nodiscard]] virtual Result<OneTimeToken> find_token(std::string_view hash, TokenPurpose purpose,
                                                        Seconds now) = 0;
  // Deletes the user's tokens of this purpose (a new link invalidates older
  // ones; a password reset ends pending resets). The number deleted.
  [[nodiscard]] virtual Result<std::int64_t> revoke_tokens(std::string_view user_id, TokenPurpose purpose) = 0;
  // How many tokens of this purpose the user was given at or after `since`
  // (created_at >= since) that are still stored: not consumed, revoked or
  // purged. An expired token counts until purge_tokens removes it. For send
  // throttling.
  [[nodiscard]] virtual Result<std::int64_t> count_tokens(std::string_view user_id, TokenPurpose purpose,
                                                          Seconds since) = 0;
  // Deletes tokens with expires_at <= now. The number deleted.
  [[nodiscard]] virtual Result<std::int64_t> purge_tokens(Seconds now) = 0;
};

}  // namespace gh::store
