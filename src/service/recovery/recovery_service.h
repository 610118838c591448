// RecoveryService: password reset by email and email verification (issue #8).
//
// Links carry a single-use token (256 random bits; only its SHA-256 is
// stored, store/onetime_store.h) and are built from the configured public URL,
// never from a request's Host header. Asking for a reset says nothing about
// whether the address has an account: the HTTP layer answers 202 before the
// work below runs (request_reset() is queued), so content and timing match.
// A new reset link invalidates older ones; using one ends every session and
// refresh family, clears lockout and tells the user by mail.
//
// Blocking (store, hashing, spool writes): run on worker pools. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/base/clock.h"
#include "core/base/random.h"
#include "core/base/result.h"
#include "core/base/secret.h"
#include "service/accounts/accounts.h"
#include "service/common/audit.h"
#include "service/mail/mailer.h"
#include "service/mail/notice.h"
#include "store/store.h"

namespace gh::service {

enum class RecoveryError : std::uint8_t {
  InvalidLink = 1,  // unknown, used, expired or for another purpose: one answer
};
GH_DECLARE_ERROR_CATEGORY(RecoveryError)

struct RecoveryConfig {
  std::string public_url;                       // links point here
  std::chrono::seconds reset_ttl{30 * 60};      // a reset link lives this long
  std::chrono::seconds verify_ttl{24 * 3600};   // an email-verification link
  std::chrono::seconds email_change_ttl{3600};  // a link confirming a new address
  std::int64_t max_links_per_hour = 5;          // per user and purpose; more requests send nothing
  std::chrono::milliseconds max_jitter{1000};   // queued jobs wait 0..this first (jitter())
};

class RecoveryService {
 public:
  RecoveryService(store::Store& store, AccountService& accounts, Mailer& mailer, Clock& clock,
                  Random& rng, AuditSink& audit, RecoveryConfig config);

  // Sends a reset link if `email` names an account (nothing otherwise, and
  // nothing past max_links_per_hour). Always "succeeds" for unknown addresses;
  // errors are only for the operator (store or spool down).
  [[nodiscard]] Status request_reset(std::string_view email, const RequestMeta& meta);
  // True if `token` is a live reset link (for showing the form). Never consumes it.
  [[nodiscard]] Result<bool> reset_link_valid(const SecretString& token);
  // Consumes the link and sets the password (AccountService::reset_password),
  // then notifies the user. Errors: InvalidLink, PolicyError, HashError, StoreError.
  // A policy failure consumes nothing: the person can try another password.
  [[nodiscard]] Result<store::User> reset_password(const SecretString& token,
                                                   SecretString new_password,
                                                   const RequestMeta& meta);

  // Sends (or re-sends) an email-verification link to the user's address,
  // unless already verified or past max_links_per_hour.
  [[nodiscard]] Status send_verification(std::string_view user_id, const RequestMeta& meta);
  // Consumes a verification link and marks the address verified. Errors: InvalidLink, StoreError.
  [[nodiscard]] Result<store::User> verify_email(const SecretString& token,
                                                 const RequestMeta& meta);

  // Someone tried to register `email`, which already has an account: its owner
  // is told (at most max_links_per_hour a hour, counted with reset links). For
  // registration that does not reveal taken addresses. Errors: StoreError.
  [[nodiscard]] Status notify_registration_attempt(std::string_view email, const RequestMeta& meta);

  // Email change (the caller checked step-up): a confirmation link to the new
  // address (email_change_ttl) and a notice to the current one; the address
  // changes only when the link is used. A new address that already has an
  // account gets a mail saying so instead of a link, and the answer is the
  // same (no account oracle). Errors: EmailError (not an address), StoreError.
  [[nodiscard]] Status request_email_change(std::string_view user_id, std::string_view new_email,
                                            const RequestMeta& meta);
  // Consumes the link and sets the new address (verified). The link dies if
  // the address changed since it was asked for; every other reset,
  // verification and change link of the user is revoked.
  // Errors: InvalidLink (also when the address was taken meanwhile), StoreError.
  [[nodiscard]] Result<store::User> confirm_email_change(const SecretString& token,
                                                         const RequestMeta& meta);

  [[nodiscard]] const RecoveryConfig& config() const { return cfg_; }
  // Sleeps a random 0..max_jitter: queued jobs (request_reset) call it first so
  // the work for a real account cannot be lined up with anyone's requests.
  void jitter();

 private:
  // A fresh token for `user` and `purpose` (stored hashed); the plaintext.
  [[nodiscard]] Result<std::string> issue(const store::User& user, store::TokenPurpose purpose,
                                          std::chrono::seconds ttl);
  // False (and audited) if the user already had max_links_per_hour links of this purpose in the
  // last hour.
  [[nodiscard]] Result<bool> under_send_limit(const store::User& user, store::TokenPurpose purpose,
                                              std::string_view action, const RequestMeta& meta,
                                              std::string_view actor);
  // Takes a link's token out of the store (single use); InvalidLink (audited as `action`) for
  // unknown, used, expired or other-purpose tokens.
  [[nodiscard]] Result<store::OneTimeToken> consume_link(const SecretString& token,
                                                         store::TokenPurpose purpose,
                                                         std::string_view action,
                                                         const RequestMeta& meta);
  // Where notices (mails that create no token to count) are limited: max_links_per_hour.
  [[nodiscard]] NoticeLog notice_log();
  void audit(std::string action, std::string result, std::string actor, std::string subject,
             const RequestMeta& meta);

  store::Store& store_;
  AccountService& accounts_;
  Mailer& mailer_;
  Clock& clock_;
  Random& rng_;
  AuditSink& audit_;
  RecoveryConfig cfg_;
};

}  // namespace gh::service

template <>
struct std::is_error_code_enum<gh::service::RecoveryError> : std::true_type {};
