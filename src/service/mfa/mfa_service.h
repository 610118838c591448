// MfaService: the second factor (issue #8) — TOTP authenticators, recovery
// codes, the sign-in challenge between the password and the session, and the
// policy of who must have one.
//
// - Enrolment: a 160-bit secret, sealed under the KEK (AAD binds it to the
//   user) and stored pending; shown once as an otpauth:// URI and QR code; it
//   becomes a factor when the user proves a first code, which also issues ten
//   recovery codes. A pending enrolment is shown again for kPendingReuse, then
//   replaced, so a reloaded page keeps the QR code the person just scanned.
// - Codes: RFC 6238, ±1 step, and a code's step must be later than the last
//   accepted one (a compare-and-swap in the store: one winner across threads
//   and instances). Recovery codes: 80 random bits each (under 112, so ASVS
//   6.5.2 asks for a salted password hash): stored as Argon2id with a per-user
//   salt derived from the KEK (a database leak alone cannot even start an
//   offline search), so one Argon2id per attempt finds the code among the
//   user's ten; consumed atomically, audited with the number left.
// - Sign-in: after the password, a user with a factor (or one the policy
//   requires) gets a challenge: a one-time token (TokenPurpose::MfaChallenge,
//   challenge_ttl), not a session and not tokens. Completing it needs a code;
//   failures count in the lockout store under "mfa:<user id>" (never cleared
//   by a password success, so re-entering the password gives no new guesses).
//   A wrong code leaves the challenge usable; success consumes it.
// - Policy: required for `required_roles` (a role in any tenant, or
//   "tenant/role"), platform admins, or everyone (`required_for_all`). A user
//   who must enrol gets an enrolment challenge instead of a session. Such a
//   forced enrolment also needs proof of the mailbox
//   (`enrollment_requires_email_code`): starting the challenge mails an
//   8-digit code (stored only as an HMAC under a KEK subkey, bound to that
//   challenge, living enrollment_code_ttl, its guesses counted in the same
//   lockout as codes), which must come with the first TOTP code — so the
//   holder of a password alone cannot register their own authenticator.
//   Step-up for a user the policy requires a factor of, but who has none, is
//   refused (EnrollmentRequired); a grant that makes the policy apply ends the
//   user's sessions and refresh families (end_sessions_if_enrolment_needed).
// - Notices: a failed second factor after a right first step mails the owner
//   (once per lockout window, at most notices_per_hour an hour, no secret).
//
// Blocking (store, sealing; Argon2id for recovery codes: complete_challenge,
// verify, step_up, confirm_enrolment and regenerate_recovery_codes belong on
// the hashing pool). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/account/lockout.h"
#include "core/base/clock.h"
#include "core/base/random.h"
#include "core/base/result.h"
#include "core/base/secret.h"
#include "core/crypto/seal.h"
#include "service/common/audit.h"
#include "store/store.h"

namespace gh::service {

class AccountService;
class Mailer;
struct MailMessage;

enum class MfaError : std::uint8_t {
  InvalidCode = 1,       // wrong, reused or malformed code (or too many failures): one answer
  InvalidChallenge,      // unknown, used or expired sign-in challenge
  AlreadyEnrolled,       // an authenticator is already active
  NotEnrolled,           // no active authenticator (or no pending enrolment to confirm)
  SecondFactorRequired,  // step-up for a user with an authenticator needs a code too
  EmailCodeRequired,     // a forced enrolment needs the code mailed to the account, none was sent
  InvalidEmailCode,      // that mailed code is wrong, expired, for another challenge, or paused
  EnrollmentRequired,    // the policy requires a factor this user lacks: sign in again and enrol
};
GH_DECLARE_ERROR_CATEGORY(MfaError)

struct MfaConfig {
  std::string issuer = "Gatehouse";
  std::string
      public_url;  // for the links in notices                  // the name authenticator apps show
  std::chrono::seconds challenge_ttl{5 * 60};        // a sign-in challenge lives this long
  std::vector<std::string> required_roles{"admin"};  // "role" (any tenant) or "tenant-id/role"
  bool required_for_platform_admins = true;
  bool required_for_all = false;           // ASVS L2: every account needs a second factor
  account::LockoutPolicy lockout{};        // failed codes, per (user, IP) and per user
  std::uint32_t code_hash_iterations = 2;  // Argon2id for recovery codes (the password settings)
  std::uint64_t code_hash_memory_kib = 19 * 1024;
  bool lockout_enabled = true;
  // A forced enrolment at sign-in needs the code mailed to the account's address.
  bool enrollment_requires_email_code = true;
  // The mailed code (and its challenge) lives this long.
  std::chrono::seconds enrollment_code_ttl{15 * 60};
  std::int64_t notices_per_hour = 5;  // per user and kind: enrolment codes, failed-code notices
};

// Authentication methods (RFC 8176) after each step.
inline constexpr std::string_view kAmrPassword = "pwd";
inline constexpr std::string_view kAmrTotp = "pwd otp mfa";
inline constexpr std::string_view kAmrRecoveryCode = "pwd mfa";

struct MfaStatus {
  bool totp = false;  // an authenticator is active
  std::int64_t recovery_codes_left = 0;
  bool required = false;  // the policy requires a second factor for this user
};

struct Enrolment {
  SecretString secret_base32;  // for typing into an app by hand
  std::string otpauth_uri;     // secret inside: show, never log
  std::string qr_svg;          // the URI as a QR code
};

enum class ChallengeKind : std::uint8_t { Verify, Enroll };

struct Challenge {
  SecretString token;  // the plaintext; only its hash is stored
  ChallengeKind kind = ChallengeKind::Verify;
  std::chrono::seconds expires_in{};
  bool email_code = false;  // Enroll: completing needs the code mailed to the account too
};

// A second factor as sent: a TOTP code or a recovery code (one of them).
struct SecondFactor {
  std::string code;
  std::string recovery_code;
  std::string
      device_token;  // the browser's known-device cookie: exempts it from the account-wide lock
  std::string email_code;  // Enroll challenges: the code mailed when the challenge started
};

struct Completed {
  store::User user;
  std::string amr;                          // kAmrTotp or kAmrRecoveryCode
  std::vector<std::string> recovery_codes;  // new codes (an enrolment just completed): show once
  std::optional<std::int64_t> recovery_codes_left;  // set when a recovery code was used
};

class MfaService {
 public:
  static constexpr std::chrono::seconds kPendingReuse{15 * 60};
  static constexpr int kRecoveryCodes = 10;

  MfaService(store::Store& store, const crypto::Kek& kek, Clock& clock, Random& rng,
             AuditSink& audit, MfaConfig config, Mailer* mailer = nullptr);

  [[nodiscard]] Result<MfaStatus> status(const store::User& user);
  // Whether the policy requires a second factor for `user`. Errors: StoreError.
  [[nodiscard]] Result<bool> required_for(const store::User& user);
  // The policy requires a second factor and `user` has no active one. Errors: StoreError.
  [[nodiscard]] Result<bool> needs_enrolment(const store::User& user);
  // After a grant (a tenant role, platform admin) to `user_id`: if the policy now requires a
  // factor the user lacks, ends every session and refresh family (AccountService::logout_all:
  // they sign in again and enrol) and audits "mfa.policy_logout" (`cause` as result). True
  // when sessions were ended. Errors: NotFound, StoreError.
  [[nodiscard]] Result<bool> end_sessions_if_enrolment_needed(std::string_view user_id,
                                                              AccountService& accounts,
                                                              std::string_view actor,
                                                              std::string_view cause,
                                                              const RequestMeta& meta);

  // After a verified first step (`first_amr`: "pwd", or "fed" after a provider sign-in, kept
  // in the session's amr): nullopt when no second factor is needed,
  // else a challenge (Verify if enrolled, Enroll if the policy requires one; an Enroll
  // challenge mails the confirmation code when enrollment_requires_email_code). `login`: for a
  // sign-in, the subject of the `user.login.mfa_pending` event audited when a challenge is issued
  // (the `user.login` success comes with the session or tokens, after the second factor).
  [[nodiscard]] Result<std::optional<Challenge>> challenge_after_password(
      const store::User& user, const RequestMeta& meta, std::string_view first_amr = kAmrPassword,
      std::string_view login = {});
  // The live challenge's user and kind (for pages). Errors: InvalidChallenge.
  [[nodiscard]] Result<std::pair<store::User, ChallengeKind>> challenge_info(
      const SecretString& token);
  // Enroll challenges: the authenticator to set up (pending until completed). Errors:
  // InvalidChallenge.
  [[nodiscard]] Result<Enrolment> enrol_for_challenge(const SecretString& token,
                                                      const RequestMeta& meta);
  // Checks the factor against the challenge's user (Verify: TOTP or recovery
  // code; Enroll: a code of the pending enrolment, which then becomes active),
  // consumes the challenge and says how the user authenticated. An Enroll challenge
  // that carries a mailed code checks `factor.email_code` first (counted by lockout).
  // A failed factor of a Verify challenge mails the owner a notice (throttled).
  // Errors: InvalidChallenge, InvalidCode, NotEnrolled, EmailCodeRequired, InvalidEmailCode,
  // AccountError::Disabled, StoreError.
  [[nodiscard]] Result<Completed> complete_challenge(const SecretString& token,
                                                     const SecondFactor& factor,
                                                     const RequestMeta& meta);

  // Signed-in enrolment. Errors: AlreadyEnrolled, StoreError.
  // `flow` names who is enrolling (a session, a token family, a challenge): a pending
  // enrolment is shown again and confirmed only within the flow that started it.
  [[nodiscard]] Result<Enrolment> begin_enrolment(const store::User& user, std::string_view flow,
                                                  const RequestMeta& meta);
  // The first code of the pending enrolment; returns the recovery codes.
  // Errors: NotEnrolled (nothing pending), InvalidCode, StoreError.
  [[nodiscard]] Result<std::vector<std::string>> confirm_enrolment(const store::User& user,
                                                                   std::string_view flow,
                                                                   std::string_view code,
                                                                   const RequestMeta& meta);
  // A second factor for an already signed-in user (step-up). Returns the amr
  // it adds. Errors: NotEnrolled, InvalidCode, StoreError.
  [[nodiscard]] Result<std::string> verify(const store::User& user, const SecondFactor& factor,
                                           const RequestMeta& meta);
  // Step-up after the password was verified again (AccountService::reauthenticate):
  // "pwd" for a user without an authenticator whom the policy does not require one of;
  // otherwise the factor is required and checked, and its amr returned.
  // Errors: EnrollmentRequired (required, none active), SecondFactorRequired, InvalidCode,
  // StoreError.
  [[nodiscard]] Result<std::string> step_up(const store::User& user, const SecondFactor& factor,
                                            const RequestMeta& meta);
  // New recovery codes (the old set stops working). Errors: NotEnrolled, StoreError.
  [[nodiscard]] Result<std::vector<std::string>> regenerate_recovery_codes(const store::User& user,
                                                                           const RequestMeta& meta);
  // Removes the authenticator and the recovery codes. `actor` is the user
  // (audited "mfa.remove") or an admin ("mfa.reset"). Errors: NotEnrolled, StoreError.
  [[nodiscard]] Status remove(std::string_view user_id, std::string_view actor,
                              const RequestMeta& meta);

  [[nodiscard]] const MfaConfig& config() const { return cfg_; }

 private:
  [[nodiscard]] Result<Enrolment> enrol(const store::User& user, std::string_view flow,
                                        const RequestMeta& meta);
  [[nodiscard]] Result<std::pair<std::string, SecretString>> open_sealed(
      const store::TotpFactor& f) const;
  [[nodiscard]] Result<std::vector<std::string>> new_recovery_codes(const store::User& user);
  // Checks `factor` for a confirmed authenticator; on success the amr.
  [[nodiscard]] Result<std::string> check_factor(const store::User& user,
                                                 const SecondFactor& factor,
                                                 std::optional<std::int64_t>& codes_left,
                                                 std::string_view action, const RequestMeta& meta,
                                                 std::int64_t* failed_attempts = nullptr);
  [[nodiscard]] Result<std::string> recovery_hash(std::string_view user_id,
                                                  std::string_view normalized) const;
  [[nodiscard]] Result<SecretString> open_secret(const store::TotpFactor& f) const;
  [[nodiscard]] Result<store::OneTimeToken> live_challenge(const SecretString& token);
  void audit(std::string action, std::string result, std::string actor, std::string subject,
             const RequestMeta& meta);
  // Best effort (logged): tells `user_id`'s address what changed about its second factor.
  void notify(std::string_view user_id, std::string_view subject, std::string_view what);
  // The HMAC (hex) of a mailed enrolment code, bound to the challenge's hash.
  [[nodiscard]] std::string email_code_mac(std::string_view challenge_hash,
                                           std::string_view digits) const;
  // Mails `code` to `user` unless notices_per_hour were sent this hour (audited either way).
  // Mails `m` to the owner of `user` unless `action` already has notices_per_hour "sent" audit
  // rows in the last hour; audits `action` as sent / throttled / no_mailer / mail_failed.
  void send_limited(std::string_view action, std::string_view actor, const store::User& user,
                    const MailMessage& m, const RequestMeta& meta);
  void send_enrolment_code(const store::User& user, std::string_view code, const RequestMeta& meta);
  // The mailed code of an Enroll challenge `t` against `typed`. Errors: EmailCodeRequired,
  // InvalidEmailCode, StoreError.
  [[nodiscard]] Status check_email_code(const store::OneTimeToken& t, const store::User& user,
                                        std::string_view typed, const RequestMeta& meta);
  // Someone got the first step right but not the second: tell the owner (best effort), at most
  // once per lockout window (`attempts`: the account-wide count after this failure, 0 unknown)
  // and notices_per_hour an hour.
  void notify_failed_factor(const store::User& user, std::string_view first_amr,
                            std::int64_t attempts, const RequestMeta& meta);

  store::Store& store_;
  const crypto::Kek& kek_;
  Clock& clock_;
  Random& rng_;
  AuditSink& audit_;
  MfaConfig cfg_;
  Mailer* mailer_;             // when set: the user is told when a factor is added or removed
  SecretString recovery_key_;  // KEK subkey for recovery-code hashes
  SecretString email_code_key_;  // KEK subkey for mailed enrolment codes
};

struct Config;
// The [mfa] settings (and the lockout policy for codes) from the server config.
[[nodiscard]] MfaConfig mfa_config(const Config& c);

// A recovery code as typed ("ABCD-efgh 2345…"): lower case, without spaces and
// dashes; nullopt unless 16 base32 characters remain.
[[nodiscard]] std::optional<std::string> normalize_recovery_code(std::string_view typed);

}  // namespace gh::service

template <>
struct std::is_error_code_enum<gh::service::MfaError> : std::true_type {};
