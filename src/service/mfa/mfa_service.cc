#include "service/mfa/mfa_service.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <span>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/base/encoding.h"
#include "core/crypto/seal.h"
#include "core/net/client_ip.h"
#include "core/password/hasher.h"
#include "core/totp/qr.h"
#include "core/totp/totp.h"
#include "service/accounts/accounts.h"
#include "service/config.h"
#include "service/mail/mailer.h"
#include "service/mail/notice.h"
#include "service/sessions/form_guard.h"
#include "service/tokens/token_service.h"

namespace gh::service {

const char* describe(MfaError e) {
  switch (e) {
    case MfaError::InvalidCode:
      return "the code is not valid";
    case MfaError::InvalidChallenge:
      return "the sign-in attempt has expired: sign in again";
    case MfaError::AlreadyEnrolled:
      return "an authenticator is already set up";
    case MfaError::NotEnrolled:
      return "no authenticator is set up";
    case MfaError::SecondFactorRequired:
      return "enter a code from your authenticator app (or a recovery code) as well";
    case MfaError::EmailCodeRequired:
      return "enter the confirmation code we mailed to your address as well";
    case MfaError::InvalidEmailCode:
      return "the confirmation code from the mail is not valid";
    case MfaError::EnrollmentRequired:
      return "this account must set up two-step verification: sign in again to do so";
  }
  return "mfa error";
}
GH_DEFINE_ERROR_CATEGORY(MfaError, "mfa")

namespace {

bool is(const Error& e, store::StoreError s) { return e.code == make_error_code(s); }

constexpr std::size_t kBindingBytes = 32;   // SHA-256 of the flow an enrolment belongs to
constexpr std::size_t kSecretBytes = 20;    // 160 bits (RFC 4226 §4 recommends it)
constexpr std::size_t kRecoveryBytes = 10;  // 80 bits: 16 base32 characters
constexpr std::size_t kMaxChallengeChars = 128;
constexpr std::string_view kVerifyData = "verify";
constexpr std::string_view kEnrollData = "enroll";
constexpr std::size_t kEmailCodeDigits = 8;  // 10^8 codes; lockout allows ~20 guesses a window
constexpr std::string_view kMailField = ";mail=";  // HMAC of the mailed code
constexpr std::string_view kMailExpiryField = ";mail_exp=";

// A challenge's data: its kind, then the methods of the first step ("verify pwd", "enroll fed"),
// then for an Enroll challenge with a mailed code ";mail=<hmac hex>;mail_exp=<unix seconds>".
std::string_view kind_of(std::string_view data) { return data.substr(0, data.find(' ')); }
std::string first_amr_of(std::string_view data) {
  const auto sp = data.find(' ');
  if (sp == std::string_view::npos) return std::string(kAmrPassword);
  const auto rest = data.substr(sp + 1);
  return std::string(rest.substr(0, rest.find(';')));
}
// The value of `field` (";name=") in a challenge's data; empty if absent.
std::string_view field_of(std::string_view data, std::string_view field) {
  const auto at = data.find(field);
  if (at == std::string_view::npos) return {};
  const auto rest = data.substr(at + field.size());
  return rest.substr(0, rest.find(';'));
}
// The digits of a typed mailed code ("1234 5678", "1234-5678"); nullopt unless exactly 8.
std::optional<std::string> normalize_email_code(std::string_view typed) {
  std::string out;
  for (char ch : typed) {
    if (ch == ' ' || ch == '-') continue;
    if (ch < '0' || ch > '9' || out.size() == kEmailCodeDigits) return std::nullopt;
    out.push_back(ch);
  }
  if (out.size() != kEmailCodeDigits) return std::nullopt;
  return out;
}
// The methods after a second factor, given the first step's: "pwd" + TOTP = "pwd otp mfa".
std::string with_second(std::string_view first, std::string_view second_amr) {
  // second_amr is kAmrTotp or kAmrRecoveryCode, both "pwd ...": keep what follows "pwd".
  return std::string(first) + std::string(second_amr.substr(kAmrPassword.size()));
}

std::string aad_for(std::string_view user_id) {
  return "gatehouse totp v1:" + std::string(user_id);
}

std::int64_t unix_now(Seconds now) { return now.time_since_epoch().count(); }

std::string lockout_key(std::string_view user_id) { return "mfa:" + std::string(user_id); }

std::string binding_of(std::string_view flow) {
  return sha256("gatehouse mfa enrolment flow:" + std::string(flow));
}

}  // namespace

MfaConfig mfa_config(const Config& c) {
  MfaConfig m;
  m.issuer = c.mfa_issuer;
  m.public_url = c.public_url;
  m.challenge_ttl = std::chrono::seconds(c.mfa_challenge_ttl_s);
  m.required_roles.clear();
  std::string_view rest = c.mfa_required_roles;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) m.required_roles.emplace_back(item);
  }
  m.required_for_platform_admins = c.mfa_required_for_platform_admins;
  m.required_for_all = c.mfa_required_for_all;
  m.lockout = c.lockout_policy();
  m.lockout_enabled = c.lockout_enabled;
  m.code_hash_iterations = c.argon2_iterations;
  m.code_hash_memory_kib = c.argon2_memory_kib;
  m.enrollment_requires_email_code = c.mfa_enrollment_requires_email_code;
  m.enrollment_code_ttl = std::chrono::seconds(c.mfa_enrollment_code_ttl_s);
  return m;
}

std::optional<std::string> normalize_recovery_code(std::string_view typed) {
  std::string out;
  out.reserve(16);
  for (char ch : typed) {
    if (ch == '-' || ch == ' ') continue;
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '2' && ch <= '7');
    if (!ok || out.size() == 16) return std::nullopt;
    out.push_back(ch);
  }
  if (out.size() != 16) return std::nullopt;
  return out;
}

MfaService::MfaService(store::Store& store, const crypto::Kek& kek, Clock& clock, Random& rng,
                       AuditSink& audit, MfaConfig config, Mailer* mailer)
    : store_(store),
      kek_(kek),
      clock_(clock),
      rng_(rng),
      audit_(audit),
      cfg_(std::move(config)),
      mailer_(mailer),
      recovery_key_(kek.derive("gatehouse recovery codes v1")),
      email_code_key_(kek.derive("gatehouse mfa enrolment email codes v1")) {}

void MfaService::audit(std::string action, std::string result, std::string actor,
                       std::string subject, const RequestMeta& meta) {
  audit_.record(AuditEvent{std::move(action), std::move(result), std::move(actor),
                           std::move(subject), clock_.now(), meta});
}

void MfaService::notify(std::string_view user_id, std::string_view subject, std::string_view what) {
  if (mailer_ == nullptr) return;
  auto user = store_.users().find_user_by_id(user_id);
  if (!user) return;
  MailMessage m;
  m.to = user->email;
  m.subject = std::string(subject);
  m.text = fmt::format(
      "{} for your account {}.\r\n\r\nIf this was not you, reset your password at "
      "{}/forgot-password "
      "and contact your administrator.\r\n",
      what, user->email, cfg_.public_url);
  if (auto sent = mailer_->send(m); !sent)
    spdlog::warn("mfa: the notice could not be queued: {}", sent.error().message());
}

std::string MfaService::email_code_mac(std::string_view challenge_hash,
                                       std::string_view digits) const {
  return hex_encode(crypto::hmac_sha256(
      email_code_key_.expose(),
      "enrol code v1:" + std::string(challenge_hash) + ":" + std::string(digits)));
}

void MfaService::send_limited(std::string_view action, std::string_view actor,
                              const store::User& user, const MailMessage& m,
                              const RequestMeta& meta) {
  if (mailer_ == nullptr) {
    audit(std::string(action), "no_mailer", std::string(actor), user.id, meta);
    return;
  }
  auto sent = send_notice(NoticeLog{store_.audit(), audit_, clock_, cfg_.notices_per_hour},
                          *mailer_, m, action, "sent", actor, user.id, meta);
  if (!sent) {
    spdlog::warn("mfa: the {} mail was not sent: {}", action, sent.error().message());
    audit(std::string(action), "mail_failed", std::string(actor), user.id, meta);
  }
}

void MfaService::send_enrolment_code(const store::User& user, std::string_view code,
                                     const RequestMeta& meta) {
  MailMessage m;
  m.to = user.email;
  m.subject = "Your code to set up two-step verification";
  m.text = fmt::format(
      "Your confirmation code: {} {}\r\n\r\n"
      "Someone signed in to {} with the right password and is setting up an authenticator app "
      "for it, as this account requires. Enter this code together with the first code from the "
      "app. It works once, for the next {} minutes.\r\n\r\n"
      "If this was not you, do not give this code to anyone: someone knows your password. "
      "Choose a new one at {}/forgot-password and contact your administrator.\r\n",
      code.substr(0, 4), code.substr(4), user.email,
      std::max<std::int64_t>(1, cfg_.enrollment_code_ttl.count() / 60), cfg_.public_url);
  send_limited("mfa.enrol_code", user.id, user, m, meta);
  wipe(m.text);
}

void MfaService::notify_failed_factor(const store::User& user, std::string_view first_amr,
                                      std::int64_t attempts, const RequestMeta& meta) {
  // One notice per burst: the first failure of a lockout window (every failure when the
  // count is unknown), and never more than notices_per_hour an hour.
  if (attempts > 1) return;
  const bool federated = first_amr.find("fed") != std::string_view::npos;
  MailMessage m;
  m.to = user.email;
  m.subject = "Someone got past your password but not your second step";
  m.text = fmt::format(
      "Someone {} for {}, but then entered a wrong code from your authenticator app (or a "
      "wrong recovery code), so they were not let in.\r\n\r\n"
      "If this was you and you mistyped the code, you can ignore this message. If it was not "
      "you, {}, and contact your administrator.\r\n",
      federated ? "signed in through your sign-in provider" : "entered the right password",
      user.email,
      federated ? "someone controls your account at that provider: secure it there"
                : fmt::format("your password is known to someone else: change your password now "
                              "at {}/forgot-password",
                              cfg_.public_url));
  send_limited("mfa.failed_notice", "system", user, m, meta);
}

Result<std::string> MfaService::recovery_hash(std::string_view user_id,
                                              std::string_view normalized) const {
  const std::string salt = crypto::hmac_sha256(recovery_key_.expose(), user_id).substr(0, 16);
  auto raw = password::argon2id_raw(normalized, salt, cfg_.code_hash_iterations,
                                    cfg_.code_hash_memory_kib);
  if (!raw) return fail(raw.error());
  return hex_encode(*raw);
}

// The sealed plaintext: SHA-256 of the enrolment flow (kBindingBytes) || the secret.
Result<std::pair<std::string, SecretString>> MfaService::open_sealed(
    const store::TotpFactor& f) const {
  auto raw = kek_.open(f.secret_sealed, aad_for(f.user_id));
  if (!raw) return fail(raw.error());
  if (raw->expose().size() != kBindingBytes + kSecretBytes)
    return fail(crypto::SealError::Malformed);
  return std::pair{std::string(raw->expose().substr(0, kBindingBytes)),
                   SecretString(std::string(raw->expose().substr(kBindingBytes)))};
}

Result<SecretString> MfaService::open_secret(const store::TotpFactor& f) const {
  auto opened = open_sealed(f);
  if (!opened) return fail(opened.error());
  return std::move(opened->second);
}

Result<bool> MfaService::required_for(const store::User& user) {
  if (cfg_.required_for_all) return true;
  if (cfg_.required_for_platform_admins) {
    auto admin = store_.tenants().is_platform_admin(user.id);
    if (!admin) return fail(admin.error());
    if (*admin) return true;
  }
  if (cfg_.required_roles.empty()) return false;
  auto members = store_.tenants().memberships_of(user.id);
  if (!members) return fail(members.error());
  for (const auto& m : *members) {
    for (const auto& rule : cfg_.required_roles) {
      const auto slash = rule.find('/');
      const bool match = slash == std::string::npos
                             ? rule == m.role
                             : std::string_view(rule).substr(0, slash) == m.tenant_id &&
                                   std::string_view(rule).substr(slash + 1) == m.role;
      if (match) return true;
    }
  }
  return false;
}

Result<bool> MfaService::needs_enrolment(const store::User& user) {
  auto f = store_.mfa().find_totp(user.id);
  if (!f && !is(f.error(), store::StoreError::NotFound)) return fail(f.error());
  if (f && f->confirmed) return false;
  return required_for(user);
}

Result<bool> MfaService::end_sessions_if_enrolment_needed(std::string_view user_id,
                                                          AccountService& accounts,
                                                          std::string_view actor,
                                                          std::string_view cause,
                                                          const RequestMeta& meta) {
  auto user = store_.users().find_user_by_id(user_id);
  if (!user) return fail(user.error());
  auto needs = needs_enrolment(*user);
  if (!needs) return fail(needs.error());
  if (!*needs) return false;
  // Sessions and tokens from before the grant carry no second factor: the policy now says
  // they must, so they end, and the next sign-in is sent to enrolment.
  if (auto ok = accounts.logout_all(user->id, meta); !ok) return fail(ok.error());
  audit("mfa.policy_logout", std::string(cause), std::string(actor), user->id, meta);
  return true;
}

Result<MfaStatus> MfaService::status(const store::User& user) {
  MfaStatus s;
  auto f = store_.mfa().find_totp(user.id);
  if (!f && !is(f.error(), store::StoreError::NotFound)) return fail(f.error());
  s.totp = f && f->confirmed;
  auto left = store_.mfa().count_recovery_codes(user.id);
  if (!left) return fail(left.error());
  s.recovery_codes_left = *left;
  auto req = required_for(user);
  if (!req) return fail(req.error());
  s.required = *req;
  return s;
}

Result<std::optional<Challenge>> MfaService::challenge_after_password(const store::User& user,
                                                                      const RequestMeta& meta,
                                                                      std::string_view first_amr,
                                                                      std::string_view login) {
  auto f = store_.mfa().find_totp(user.id);
  if (!f && !is(f.error(), store::StoreError::NotFound)) return fail(f.error());
  ChallengeKind kind = ChallengeKind::Verify;
  if (!f || !f->confirmed) {
    auto req = required_for(user);
    if (!req) return fail(req.error());
    if (!*req) return std::optional<Challenge>{};
    kind = ChallengeKind::Enroll;
  }
  std::string plain = random_token(rng_, 32);
  const Seconds now = clock_.now();
  std::chrono::seconds ttl = cfg_.challenge_ttl;
  store::OneTimeToken t{token_hash(plain),
                        store::TokenPurpose::MfaChallenge,
                        user.id,
                        std::string(kind == ChallengeKind::Verify ? kVerifyData : kEnrollData) +
                            " " + std::string(first_amr),
                        now,
                        now + ttl};
  // A forced enrolment proves the mailbox too: whoever holds only the password must not be
  // able to register their own authenticator (a new admin, or after an admin reset).
  const bool email_code = kind == ChallengeKind::Enroll && cfg_.enrollment_requires_email_code;
  std::string code;
  if (email_code) {
    std::array<std::byte, 8> r{};
    rng_.fill(r);
    std::uint64_t v = 0;
    for (auto b : r) v = (v << 8) | std::to_integer<std::uint64_t>(b);
    code = fmt::format("{:08}", v % 100'000'000U);  // bias under 2^-36: negligible
    // The challenge lives as long as the code: reading mail and setting up an app take time.
    ttl = std::max(ttl, cfg_.enrollment_code_ttl);
    t.expires_at = now + ttl;
    t.data += fmt::format("{}{}{}{}", kMailField, email_code_mac(t.hash, code), kMailExpiryField,
                          unix_now(now + cfg_.enrollment_code_ttl));
  }
  if (auto ok = store_.one_time_tokens().put_token(t); !ok) {
    wipe(plain);
    wipe(code);
    return fail(ok.error());
  }
  audit("mfa.challenge", kind == ChallengeKind::Verify ? "verify" : "enroll", user.id, user.id,
        meta);
  if (!login.empty())
    audit("user.login.mfa_pending", kind == ChallengeKind::Verify ? "verify" : "enroll", user.id,
          std::string(login), meta);
  if (email_code) send_enrolment_code(user, code, meta);
  wipe(code);
  Challenge c{SecretString(std::move(plain)), kind, ttl};
  c.email_code = email_code;
  return std::optional<Challenge>{std::move(c)};
}

Result<store::OneTimeToken> MfaService::live_challenge(const SecretString& token) {
  if (token.expose().empty() || token.expose().size() > kMaxChallengeChars)
    return fail(MfaError::InvalidChallenge);
  auto t = store_.one_time_tokens().find_token(token_hash(token.expose()),
                                               store::TokenPurpose::MfaChallenge, clock_.now());
  if (!t)
    return is(t.error(), store::StoreError::NotFound) ? fail(MfaError::InvalidChallenge)
                                                      : fail(t.error());
  return t;
}

Result<std::pair<store::User, ChallengeKind>> MfaService::challenge_info(
    const SecretString& token) {
  auto t = live_challenge(token);
  if (!t) return fail(t.error());
  auto user = store_.users().find_user_by_id(t->user_id);
  if (!user)
    return is(user.error(), store::StoreError::NotFound) ? fail(MfaError::InvalidChallenge)
                                                         : fail(user.error());
  return std::pair{std::move(*user),
                   kind_of(t->data) == kEnrollData ? ChallengeKind::Enroll : ChallengeKind::Verify};
}

Result<Enrolment> MfaService::enrol(const store::User& user, std::string_view flow,
                                    const RequestMeta& meta) {
  const std::string binding = binding_of(flow);
  auto existing = store_.mfa().find_totp(user.id);
  if (!existing && !is(existing.error(), store::StoreError::NotFound))
    return fail(existing.error());
  if (existing && existing->confirmed) return fail(MfaError::AlreadyEnrolled);
  const Seconds now = clock_.now();
  SecretString raw;
  std::optional<std::pair<std::string, SecretString>> pending;
  if (existing && existing->created_at + kPendingReuse > now) {
    auto opened = open_sealed(*existing);
    if (!opened) return fail(opened.error());
    // Only the flow that started it sees it again (a reloaded page keeps the QR code just
    // scanned); any other flow — someone else holding the password — gets a new secret.
    if (constant_time_equal(opened->first, binding)) pending = std::move(*opened);
  }
  if (pending) {
    raw = std::move(pending->second);
  } else {
    std::string bytes(kSecretBytes, '\0');
    rng_.fill(std::as_writable_bytes(std::span(bytes)));
    raw = SecretString(std::move(bytes));
    std::string plain = binding;
    plain += raw.expose();
    store::TotpFactor f{user.id, kek_.seal(plain, aad_for(user.id), rng_), false, 0, now, {}};
    wipe(plain);
    if (auto ok = store_.mfa().put_pending_totp(f); !ok)
      return is(ok.error(), store::StoreError::Conflict) ? fail(MfaError::AlreadyEnrolled)
                                                         : fail(ok.error());
    audit("mfa.enrol", "started", user.id, user.id, meta);
  }
  const auto bytes = std::as_bytes(std::span(raw.expose()));
  Enrolment e;
  e.secret_base32 = SecretString(totp::base32_encode(bytes));
  e.otpauth_uri = totp::otpauth_uri(cfg_.issuer, user.email, bytes);
  e.qr_svg = totp::qr_svg(e.otpauth_uri);
  return e;
}

Result<Enrolment> MfaService::begin_enrolment(const store::User& user, std::string_view flow,
                                              const RequestMeta& meta) {
  return enrol(user, flow, meta);
}

Result<Enrolment> MfaService::enrol_for_challenge(const SecretString& token,
                                                  const RequestMeta& meta) {
  auto info = challenge_info(token);
  if (!info) return fail(info.error());
  if (info->second != ChallengeKind::Enroll) return fail(MfaError::AlreadyEnrolled);
  return enrol(info->first, "challenge:" + token_hash(token.expose()), meta);
}

Result<std::vector<std::string>> MfaService::new_recovery_codes(const store::User& user) {
  std::vector<std::string> codes;
  std::vector<std::string> hashes;
  for (int i = 0; i < kRecoveryCodes; ++i) {
    std::array<std::byte, kRecoveryBytes> b{};
    rng_.fill(b);
    std::string c = totp::base32_encode(b);
    std::ranges::transform(c, c.begin(), [](char ch) {
      return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
    });
    auto h = recovery_hash(user.id, c);
    if (!h) return fail(h.error());
    hashes.push_back(std::move(*h));
    codes.push_back(c.substr(0, 4) + "-" + c.substr(4, 4) + "-" + c.substr(8, 4) + "-" +
                    c.substr(12, 4));
  }
  if (auto ok = store_.mfa().replace_recovery_codes(user.id, hashes, clock_.now()); !ok)
    return fail(ok.error());
  return codes;
}

Result<std::vector<std::string>> MfaService::confirm_enrolment(const store::User& user,
                                                               std::string_view flow,
                                                               std::string_view code,
                                                               const RequestMeta& meta) {
  auto f = store_.mfa().find_totp(user.id);
  if (!f)
    return is(f.error(), store::StoreError::NotFound) ? fail(MfaError::NotEnrolled)
                                                      : fail(f.error());
  if (f->confirmed) return fail(MfaError::AlreadyEnrolled);
  auto opened = open_sealed(*f);
  if (!opened) return fail(opened.error());
  // A pending enrolment started by another flow is not this caller's to confirm.
  if (!constant_time_equal(opened->first, binding_of(flow))) {
    audit("mfa.enrol", "other_flow", user.id, user.id, meta);
    return fail(MfaError::NotEnrolled);
  }
  const auto step =
      totp::verify(std::as_bytes(std::span(opened->second.expose())), code, unix_now(clock_.now()));
  if (!step) {
    audit("mfa.enrol", "invalid_code", user.id, user.id, meta);
    return fail(MfaError::InvalidCode);
  }
  if (auto ok = store_.mfa().confirm_totp(user.id, f->secret_sealed, *step, clock_.now()); !ok)
    return is(ok.error(), store::StoreError::NotFound) ? fail(MfaError::NotEnrolled)
                                                       : fail(ok.error());
  auto codes = new_recovery_codes(user);
  if (!codes) return fail(codes.error());
  audit("mfa.enrol", "success", user.id, user.id, meta);
  notify(user.id, "Two-step verification is on",
         "An authenticator app was added as a second step at sign-in");
  return codes;
}

Result<std::string> MfaService::check_factor(const store::User& user, const SecondFactor& factor,
                                             std::optional<std::int64_t>& codes_left,
                                             std::string_view action_name, const RequestMeta& meta,
                                             std::int64_t* failed_attempts) {
  const std::string action(action_name);
  auto f = store_.mfa().find_totp(user.id);
  if (!f && !is(f.error(), store::StoreError::NotFound)) return fail(f.error());
  if (!f || !f->confirmed) return fail(MfaError::NotEnrolled);

  // Counted before the code is checked, as passwords are (core/account/lockout.h).
  std::optional<account::AttemptStep> step;
  if (cfg_.lockout_enabled) {
    // No known-device exemption here: a device cookie only proves an earlier password
    // sign-in, which whoever guesses codes already has. Sources are /64 for IPv6.
    auto begun = store_.lockout().begin_login_attempt(lockout_key(user.id), net::limit_key(meta.ip),
                                                      clock_.now(), cfg_.lockout, false);
    if (!begun) return fail(begun.error());
    step = *begun;
    if (step->verdict != account::AttemptVerdict::Proceed) {
      audit(action,
            step->verdict == account::AttemptVerdict::SourceLocked ? "locked_source"
                                                                   : "locked_account",
            user.id, user.id, meta);
      // Locked: the counters did not move; a notice went out with this window's first failure.
      if (failed_attempts != nullptr)
        *failed_attempts = std::max<std::int64_t>(2, step->account.attempts);
      return fail(MfaError::InvalidCode);
    }
  }

  std::string amr;
  if (!factor.recovery_code.empty()) {
    if (auto norm = normalize_recovery_code(factor.recovery_code)) {
      auto h = recovery_hash(user.id, *norm);
      if (!h) return fail(h.error());
      auto left = store_.mfa().consume_recovery_code(user.id, *h);
      if (!left && !is(left.error(), store::StoreError::NotFound)) return fail(left.error());
      if (left) {
        codes_left = *left;
        amr = kAmrRecoveryCode;
        audit(action, "recovery_code", user.id, user.id, meta);
        audit("mfa.recovery_code.used", std::to_string(*left) + "_left", user.id, user.id, meta);
      }
    }
  } else {
    auto raw = open_secret(*f);
    if (!raw) return fail(raw.error());
    const auto matched = totp::verify(std::as_bytes(std::span(raw->expose())), factor.code,
                                      unix_now(clock_.now()), f->last_step);
    if (matched) {
      // The compare-and-swap makes the step single-use across threads and instances.
      auto adv = store_.mfa().advance_totp_step(user.id, *matched);
      if (!adv && !is(adv.error(), store::StoreError::NotFound)) return fail(adv.error());
      if (adv) amr = kAmrTotp;
    }
  }
  if (amr.empty()) {
    audit(action, factor.recovery_code.empty() ? "invalid_code" : "invalid_recovery_code", user.id,
          user.id, meta);
    if (step && (step->source_locked_now || step->account_locked_now))
      audit("mfa.lockout", step->account_locked_now ? "account" : "source", "system", user.id,
            meta);
    if (failed_attempts != nullptr) *failed_attempts = step ? step->account.attempts : 0;
    return fail(MfaError::InvalidCode);
  }
  if (step) {
    if (auto cleared =
            store_.lockout().clear_login_attempts(lockout_key(user.id), net::limit_key(meta.ip));
        !cleared)
      spdlog::warn("mfa: clearing lockout counters after a success failed: {}",
                   cleared.error().message());
  }
  if (factor.recovery_code.empty()) audit(action, "success", user.id, user.id, meta);
  return amr;
}

Result<Completed> MfaService::complete_challenge(const SecretString& token,
                                                 const SecondFactor& factor,
                                                 const RequestMeta& meta) {
  auto t = live_challenge(token);
  if (!t) return fail(t.error());
  auto user = store_.users().find_user_by_id(t->user_id);
  if (!user)
    return is(user.error(), store::StoreError::NotFound) ? fail(MfaError::InvalidChallenge)
                                                         : fail(user.error());
  if (user->disabled) {
    audit("mfa.verify", "disabled", user->id, user->id, meta);
    return fail(AccountError::Disabled);
  }
  Completed out;
  if (kind_of(t->data) == kEnrollData) {
    if (auto ok = check_email_code(*t, *user, factor.email_code, meta); !ok)
      return fail(ok.error());
    auto codes = confirm_enrolment(*user, "challenge:" + t->hash, factor.code, meta);
    if (!codes) return fail(codes.error());
    out.recovery_codes = std::move(*codes);
    out.amr = with_second(first_amr_of(t->data), kAmrTotp);
  } else {
    std::int64_t failed = 0;
    auto amr = check_factor(*user, factor, out.recovery_codes_left, "mfa.verify", meta, &failed);
    if (!amr) {
      if (amr.error().code == make_error_code(MfaError::InvalidCode))
        notify_failed_factor(*user, first_amr_of(t->data), failed, meta);
      return fail(amr.error());
    }
    out.amr = with_second(first_amr_of(t->data), *amr);
  }
  // Single use: of two requests that both passed, one gets the sign-in.
  auto consumed = store_.one_time_tokens().consume_token(t->hash, store::TokenPurpose::MfaChallenge,
                                                         clock_.now());
  if (!consumed)
    return is(consumed.error(), store::StoreError::NotFound) ? fail(MfaError::InvalidChallenge)
                                                             : fail(consumed.error());
  out.user = std::move(*user);
  return out;
}

Status MfaService::check_email_code(const store::OneTimeToken& t, const store::User& user,
                                    std::string_view typed, const RequestMeta& meta) {
  const std::string_view mac = field_of(t.data, kMailField);
  // Configured on, every forced enrolment needs a code; a challenge made without one (an older
  // instance, or the switch turned on since) then cannot be completed: sign in again.
  if (mac.empty() && !cfg_.enrollment_requires_email_code) return {};
  if (typed.empty()) {
    audit("mfa.enrol_code", "missing", user.id, user.id, meta);
    return fail(MfaError::EmailCodeRequired);
  }
  // Counted before it is checked, with the authenticator codes (one budget per user).
  std::optional<account::AttemptStep> step;
  if (cfg_.lockout_enabled) {
    auto begun = store_.lockout().begin_login_attempt(lockout_key(user.id), net::limit_key(meta.ip),
                                                      clock_.now(), cfg_.lockout, false);
    if (!begun) return fail(begun.error());
    step = *begun;
    if (step->verdict != account::AttemptVerdict::Proceed) {
      audit("mfa.enrol_code",
            step->verdict == account::AttemptVerdict::SourceLocked ? "locked_source"
                                                                   : "locked_account",
            user.id, user.id, meta);
      return fail(MfaError::InvalidEmailCode);
    }
  }
  const auto digits = normalize_email_code(typed);
  std::int64_t expires = 0;
  const auto exp_text = field_of(t.data, kMailExpiryField);
  const bool exp_ok =
      std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), expires).ec ==
      std::errc{};
  const bool live = exp_ok && unix_now(clock_.now()) < expires;
  const bool match =
      digits && !mac.empty() && constant_time_equal(email_code_mac(t.hash, *digits), mac);
  if (!match || !live) {
    audit("mfa.enrol_code", match ? "expired" : "invalid", user.id, user.id, meta);
    if (step && (step->source_locked_now || step->account_locked_now))
      audit("mfa.lockout", step->account_locked_now ? "account" : "source", "system", user.id,
            meta);
    return fail(MfaError::InvalidEmailCode);
  }
  // The mailbox is proven: the owner's own typos on the authenticator code that follows are
  // not held against the account.
  if (step) {
    if (auto cleared =
            store_.lockout().clear_login_attempts(lockout_key(user.id), net::limit_key(meta.ip));
        !cleared)
      spdlog::warn("mfa: clearing lockout counters failed: {}", cleared.error().message());
  }
  audit("mfa.enrol_code", "accepted", user.id, user.id, meta);
  return {};
}

Result<std::string> MfaService::verify(const store::User& user, const SecondFactor& factor,
                                       const RequestMeta& meta) {
  std::optional<std::int64_t> left;
  return check_factor(user, factor, left, "mfa.step_up", meta);
}

Result<std::string> MfaService::step_up(const store::User& user, const SecondFactor& factor,
                                        const RequestMeta& meta) {
  auto f = store_.mfa().find_totp(user.id);
  if (!f && !is(f.error(), store::StoreError::NotFound)) return fail(f.error());
  if (!f || !f->confirmed) {
    // The policy may have come to require a factor after this session began (a grant, a config
    // change): the password alone is then not a recent authentication of this account.
    auto req = required_for(user);
    if (!req) return fail(req.error());
    if (!*req) return std::string(kAmrPassword);
    audit("mfa.step_up", "enrollment_required", user.id, user.id, meta);
    return fail(MfaError::EnrollmentRequired);
  }
  if (factor.code.empty() && factor.recovery_code.empty())
    return fail(MfaError::SecondFactorRequired);
  return verify(user, factor, meta);
}

Result<std::vector<std::string>> MfaService::regenerate_recovery_codes(const store::User& user,
                                                                       const RequestMeta& meta) {
  auto f = store_.mfa().find_totp(user.id);
  if (!f)
    return is(f.error(), store::StoreError::NotFound) ? fail(MfaError::NotEnrolled)
                                                      : fail(f.error());
  if (!f->confirmed) return fail(MfaError::NotEnrolled);
  auto codes = new_recovery_codes(user);
  if (!codes) return fail(codes.error());
  audit("mfa.recovery_codes.regenerate", "success", user.id, user.id, meta);
  notify(user.id, "New recovery codes",
         "New recovery codes were made (the old ones no longer work)");
  return codes;
}

Status MfaService::remove(std::string_view user_id, std::string_view actor,
                          const RequestMeta& meta) {
  const bool by_admin = actor != user_id;
  auto had = store_.mfa().delete_totp(user_id);
  if (!had) return fail(had.error());
  if (auto ok = store_.mfa().replace_recovery_codes(user_id, {}, clock_.now());
      !ok && !is(ok.error(), store::StoreError::NotFound))
    return fail(ok.error());
  audit(by_admin ? "mfa.reset" : "mfa.remove", *had ? "success" : "not_enrolled",
        std::string(actor), std::string(user_id), meta);
  if (!*had) return fail(MfaError::NotEnrolled);
  notify(user_id, "Two-step verification is off",
         by_admin ? "An administrator removed your authenticator app and recovery codes; you will "
                    "be asked to set up a new "
                    "one if your account requires it"
                  : "Your authenticator app and recovery codes were removed");
  return {};
}

}  // namespace gh::service
