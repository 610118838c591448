#include "service/mfa/mfa_service.h"

#include <algorithm>
#include <array>
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

// A challenge's data: its kind, then the methods of the first step ("verify pwd", "enroll fed").
std::string_view kind_of(std::string_view data) { return data.substr(0, data.find(' ')); }
std::string first_amr_of(std::string_view data) {
  const auto sp = data.find(' ');
  return sp == std::string_view::npos ? std::string(kAmrPassword)
                                      : std::string(data.substr(sp + 1));
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
      recovery_key_(kek.derive("gatehouse recovery codes v1")) {}

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
  store::OneTimeToken t{token_hash(plain),
                        store::TokenPurpose::MfaChallenge,
                        user.id,
                        std::string(kind == ChallengeKind::Verify ? kVerifyData : kEnrollData) +
                            " " + std::string(first_amr),
                        now,
                        now + cfg_.challenge_ttl};
  if (auto ok = store_.one_time_tokens().put_token(t); !ok) {
    wipe(plain);
    return fail(ok.error());
  }
  audit("mfa.challenge", kind == ChallengeKind::Verify ? "verify" : "enroll", user.id, user.id,
        meta);
  if (!login.empty())
    audit("user.login.mfa_pending", kind == ChallengeKind::Verify ? "verify" : "enroll", user.id,
          std::string(login), meta);
  return std::optional<Challenge>{
      Challenge{SecretString(std::move(plain)), kind, cfg_.challenge_ttl}};
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
                                             std::string_view action_name,
                                             const RequestMeta& meta) {
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
    auto codes = confirm_enrolment(*user, "challenge:" + t->hash, factor.code, meta);
    if (!codes) return fail(codes.error());
    out.recovery_codes = std::move(*codes);
    out.amr = with_second(first_amr_of(t->data), kAmrTotp);
  } else {
    auto amr = check_factor(*user, factor, out.recovery_codes_left, "mfa.verify", meta);
    if (!amr) return fail(amr.error());
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

Result<std::string> MfaService::verify(const store::User& user, const SecondFactor& factor,
                                       const RequestMeta& meta) {
  std::optional<std::int64_t> left;
  return check_factor(user, factor, left, "mfa.step_up", meta);
}

Result<std::string> MfaService::step_up(const store::User& user, const SecondFactor& factor,
                                        const RequestMeta& meta) {
  auto f = store_.mfa().find_totp(user.id);
  if (!f && !is(f.error(), store::StoreError::NotFound)) return fail(f.error());
  if (!f || !f->confirmed) return std::string(kAmrPassword);
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
