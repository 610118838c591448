#include "service/recovery/recovery_service.h"

#include <array>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/account/email.h"
#include "core/web/web.h"
#include "service/tokens/token_service.h"

namespace gh::service {

const char* describe(RecoveryError e) {
  switch (e) {
    case RecoveryError::InvalidLink:
      return "this link is invalid or has expired";
  }
  return "recovery error";
}
GH_DEFINE_ERROR_CATEGORY(RecoveryError, "recovery")

namespace {

bool not_found(const Error& e) { return e.code == make_error_code(store::StoreError::NotFound); }

// The longest token we look up: ours are 43 characters (32 bytes, base64url).
constexpr std::size_t kMaxTokenChars = 128;

std::string minutes_of(std::chrono::seconds s) {
  return std::to_string(std::max<std::int64_t>(1, s.count() / 60));
}

}  // namespace

RecoveryService::RecoveryService(store::Store& store, AccountService& accounts, Mailer& mailer,
                                 Clock& clock, Random& rng, AuditSink& audit, RecoveryConfig config)
    : store_(store),
      accounts_(accounts),
      mailer_(mailer),
      clock_(clock),
      rng_(rng),
      audit_(audit),
      cfg_(std::move(config)) {}

void RecoveryService::audit(std::string action, std::string result, std::string actor,
                            std::string subject, const RequestMeta& meta) {
  audit_.record(AuditEvent{std::move(action), std::move(result), std::move(actor),
                           std::move(subject), clock_.now(), meta});
}

Result<bool> RecoveryService::under_send_limit(const store::User& user, store::TokenPurpose purpose,
                                               std::string_view action, const RequestMeta& meta,
                                               std::string_view actor) {
  auto sent =
      store_.one_time_tokens().count_tokens(user.id, purpose, clock_.now() - std::chrono::hours{1});
  if (!sent) return fail(sent.error());
  if (*sent < cfg_.max_links_per_hour) return true;
  audit(std::string(action), "throttled", std::string(actor), user.id, meta);
  return false;
}

Result<store::OneTimeToken> RecoveryService::consume_link(const SecretString& token,
                                                          store::TokenPurpose purpose,
                                                          std::string_view action,
                                                          const RequestMeta& meta) {
  if (token.expose().empty() || token.expose().size() > kMaxTokenChars)
    return fail(RecoveryError::InvalidLink);
  auto consumed =
      store_.one_time_tokens().consume_token(token_hash(token.expose()), purpose, clock_.now());
  if (!consumed) {
    if (!not_found(consumed.error())) return fail(consumed.error());
    audit(std::string(action), "invalid_link", "anonymous", "", meta);
    return fail(RecoveryError::InvalidLink);
  }
  return consumed;
}

NoticeLog RecoveryService::notice_log() {
  return NoticeLog{store_.audit(), audit_, clock_, cfg_.max_links_per_hour};
}

Result<std::string> RecoveryService::issue(const store::User& user, store::TokenPurpose purpose,
                                           std::chrono::seconds ttl) {
  std::string plain = random_token(rng_, 32);
  const Seconds now = clock_.now();
  // Bound to the address it was sent to: if the address changes, the link dies.
  store::OneTimeToken t{token_hash(plain), purpose, user.id, user.email_normalized, now, now + ttl};
  if (auto ok = store_.one_time_tokens().put_token(t); !ok) {
    wipe(plain);
    return fail(ok.error());
  }
  return plain;
}

void RecoveryService::jitter() {
  if (cfg_.max_jitter.count() <= 0) return;
  std::array<std::byte, 4> r{};
  rng_.fill(r);
  std::uint32_t v = 0;
  std::memcpy(&v, r.data(), sizeof v);
  std::this_thread::sleep_for(
      std::chrono::milliseconds(v % static_cast<std::uint32_t>(cfg_.max_jitter.count() + 1)));
}

// ---- Password reset ---------------------------------------------------------

Status RecoveryService::request_reset(std::string_view email, const RequestMeta& meta) {
  auto parsed = account::parse_email(email);
  if (!parsed) return {};  // not an address: nothing to send, and nothing to say
  auto user = store_.users().find_user_by_email(parsed->normalized);
  if (!user) {
    if (!not_found(user.error())) return fail(user.error());
    audit("user.password_reset_request", "unknown_user", "anonymous", "", meta);
    return {};
  }
  if (user->disabled) {
    audit("user.password_reset_request", "disabled", "anonymous", user->id, meta);
    return {};
  }
  auto allowed = under_send_limit(*user, store::TokenPurpose::PasswordReset,
                                  "user.password_reset_request", meta, "anonymous");
  if (!allowed) return fail(allowed.error());
  if (!*allowed) return {};
  // Older links stay valid until they expire (at most max_links_per_hour live
  // ones): revoking them here would let anyone kill a victim's link by asking
  // again, and would keep the send limit from ever counting. A reset voids them all.
  auto token = issue(*user, store::TokenPurpose::PasswordReset, cfg_.reset_ttl);
  if (!token) return fail(token.error());
  const std::string link = fmt::format("{}/reset-password?token={}", cfg_.public_url, *token);
  MailMessage m;
  m.to = user->email;
  m.subject = "Reset your password";
  m.text = fmt::format(
      "Someone (hopefully you) asked to reset the password of your account {}.\r\n\r\n"
      "To choose a new password, open this link within {} minutes:\r\n\r\n{}\r\n\r\n"
      "If you did not ask for this, ignore this message: your password stays as it is.\r\n",
      user->email, minutes_of(cfg_.reset_ttl), link);
  auto sent = mailer_.send(m);
  wipe(*token);
  wipe(m.text);
  if (!sent) return fail(sent.error());
  audit("user.password_reset_request", "sent", "anonymous", user->id, meta);
  return {};
}

Result<bool> RecoveryService::reset_link_valid(const SecretString& token) {
  if (token.expose().empty() || token.expose().size() > kMaxTokenChars) return false;
  auto t = store_.one_time_tokens().find_token(token_hash(token.expose()),
                                               store::TokenPurpose::PasswordReset, clock_.now());
  if (!t) {
    if (not_found(t.error())) return false;
    return fail(t.error());
  }
  return true;
}

Result<store::User> RecoveryService::reset_password(const SecretString& token,
                                                    SecretString new_password,
                                                    const RequestMeta& meta) {
  if (token.expose().empty() || token.expose().size() > kMaxTokenChars)
    return fail(RecoveryError::InvalidLink);
  const std::string hash = token_hash(token.expose());
  const Seconds now = clock_.now();
  // Check first without consuming: a password the policy refuses must not burn the link.
  auto found = store_.one_time_tokens().find_token(hash, store::TokenPurpose::PasswordReset, now);
  if (!found) {
    if (!not_found(found.error())) return fail(found.error());
    audit("user.password_reset", "invalid_link", "anonymous", "", meta);
    return fail(RecoveryError::InvalidLink);
  }
  {
    auto user = store_.users().find_user_by_id(found->user_id);
    if (!user)
      return fail(not_found(user.error()) ? Error{make_error_code(RecoveryError::InvalidLink), ""}
                                          : user.error());
    // A disabled account, or a link sent to an address the account no longer has: not usable.
    if (user->disabled || user->email_normalized != found->data) {
      audit("user.password_reset", user->disabled ? "disabled" : "stale_link", "anonymous",
            user->id, meta);
      return fail(RecoveryError::InvalidLink);
    }
    auto next = password::normalize_password(new_password.expose());
    if (!next) return fail(next.error());
    // The same policy AccountService applies, checked before the link is spent.
    auto weak = accounts_.check_password_policy(*next, *user);
    if (!weak) return fail(weak.error());
  }
  // Exactly one concurrent request gets past this line.
  auto consumed =
      store_.one_time_tokens().consume_token(hash, store::TokenPurpose::PasswordReset, now);
  if (!consumed) {
    if (!not_found(consumed.error())) return fail(consumed.error());
    audit("user.password_reset", "invalid_link", "anonymous", "", meta);
    return fail(RecoveryError::InvalidLink);
  }
  auto user = accounts_.reset_password(consumed->user_id, std::move(new_password), meta);
  if (!user) {
    if (not_found(user.error())) return fail(RecoveryError::InvalidLink);
    return fail(user.error());
  }
  // Any other link still out there is void now.
  if (auto n = store_.one_time_tokens().revoke_tokens(user->id, store::TokenPurpose::PasswordReset);
      !n)
    spdlog::warn("password reset: revoking other links failed: {}", n.error().message());
  MailMessage m;
  m.to = user->email;
  m.subject = "Your password was changed";
  m.text = fmt::format(
      "The password of your account {} was just reset, and every device signed in to it was signed "
      "out.\r\n\r\n"
      "If this was not you, reset your password again at {}/forgot-password and contact your "
      "administrator.\r\n",
      user->email, cfg_.public_url);
  if (auto sent = mailer_.send(m); !sent)
    spdlog::warn("password reset: the notification could not be queued: {}",
                 sent.error().message());
  return user;
}

// ---- Email verification -----------------------------------------------------

Status RecoveryService::send_verification(std::string_view user_id, const RequestMeta& meta) {
  auto user = store_.users().find_user_by_id(user_id);
  if (!user) return fail(user.error());
  if (user->email_verified || user->disabled) return {};
  auto allowed = under_send_limit(*user, store::TokenPurpose::EmailVerify,
                                  "user.email_verification_request", meta, user->id);
  if (!allowed) return fail(allowed.error());
  if (!*allowed) return {};
  auto token = issue(*user, store::TokenPurpose::EmailVerify, cfg_.verify_ttl);
  if (!token) return fail(token.error());
  MailMessage m;
  m.to = user->email;
  m.subject = "Confirm your email address";
  m.text = fmt::format(
      "Please confirm that {} is your address by opening this link within {} hours:\r\n\r\n"
      "{}/verify-email?token={}\r\n\r\nIf you did not create an account, ignore this message.\r\n",
      user->email, std::max<std::int64_t>(1, cfg_.verify_ttl.count() / 3600), cfg_.public_url,
      *token);
  auto sent = mailer_.send(m);
  wipe(*token);
  wipe(m.text);
  if (!sent) return fail(sent.error());
  audit("user.email_verification_request", "sent", user->id, user->id, meta);
  return {};
}

Result<store::User> RecoveryService::verify_email(const SecretString& token,
                                                  const RequestMeta& meta) {
  auto consumed = consume_link(token, store::TokenPurpose::EmailVerify, "user.email_verify", meta);
  if (!consumed) return fail(consumed.error());
  // Only the address the link was sent to can be confirmed by it.
  if (auto current = store_.users().find_user_by_id(consumed->user_id);
      !current || current->email_normalized != consumed->data) {
    if (current || not_found(current.error())) {
      audit("user.email_verify", "stale_link", "anonymous", consumed->user_id, meta);
      return fail(RecoveryError::InvalidLink);
    }
    return fail(current.error());
  }
  if (auto ok = store_.users().set_email_verified(consumed->user_id, true, clock_.now()); !ok) {
    if (not_found(ok.error())) return fail(RecoveryError::InvalidLink);
    return fail(ok.error());
  }
  auto user = accounts_.load_user(consumed->user_id);  // refreshes the cache
  if (!user) return fail(user.error());
  audit("user.email_verify", "success", user->id, user->id, meta);
  return user;
}

// ---- Registration with a taken address -----------------------------------------

Status RecoveryService::notify_registration_attempt(std::string_view email,
                                                    const RequestMeta& meta) {
  auto parsed = account::parse_email(email);
  if (!parsed) return {};
  auto user = store_.users().find_user_by_email(parsed->normalized);
  if (!user) return not_found(user.error()) ? Status{} : fail(user.error());
  if (user->disabled) return {};
  MailMessage m;
  m.to = user->email;
  m.subject = "You already have an account";
  m.text = fmt::format(
      "Someone (hopefully you) tried to create an account with {}, which already has one.\r\n\r\n"
      "Sign in at {}/login, or choose a new password at {}/forgot-password.\r\n\r\n"
      "If this was not you, you can ignore this message: nothing was changed.\r\n",
      user->email, cfg_.public_url, cfg_.public_url);
  // At most max_links_per_hour notices an hour per account (counted in the audit log).
  if (auto sent = send_notice(notice_log(), mailer_, m, "user.register_attempt_notice", "sent",
                              "anonymous", user->id, meta);
      !sent)
    return fail(sent.error());
  return {};
}

// ---- Email change --------------------------------------------------------------

Status RecoveryService::request_email_change(std::string_view user_id, std::string_view new_email,
                                             const RequestMeta& meta) {
  auto parsed = account::parse_email(new_email);
  if (!parsed) return fail(parsed.error());
  auto user = store_.users().find_user_by_id(user_id);
  if (!user) return fail(user.error());
  if (user->disabled) return fail(AccountError::Disabled);
  if (parsed->normalized == user->email_normalized) return {};  // nothing to change
  auto allowed = under_send_limit(*user, store::TokenPurpose::EmailChange,
                                  "user.email_change_request", meta, user->id);
  if (!allowed) return fail(allowed.error());
  if (!*allowed) return {};
  auto taken = store_.users().find_user_by_email(parsed->normalized);
  if (taken || !not_found(taken.error())) {
    if (!taken) return fail(taken.error());
    // Same answer to the caller; the owner of the address learns of the attempt (a bounded number
    // of times).
    MailMessage m;
    m.to = parsed->display;
    m.subject = "Someone tried to use your address";
    m.text = fmt::format(
        "Someone asked to move another account to {}, which already has an account here. "
        "Nothing was changed.\r\n\r\nIf this was you, sign in to that account instead: "
        "{}/login\r\n",
        parsed->display, cfg_.public_url);
    if (auto sent = send_notice(notice_log(), mailer_, m, "user.email_change_request",
                                "address_taken", user->id, user->id, meta);
        !sent)
      return fail(sent.error());
    return {};
  }
  std::string plain = random_token(rng_, 32);
  const Seconds now = clock_.now();
  // Bound to the current address and carrying the new one: "<old normalized>\n<new as typed>".
  store::OneTimeToken t{token_hash(plain),
                        store::TokenPurpose::EmailChange,
                        user->id,
                        user->email_normalized + "\n" + parsed->display,
                        now,
                        now + cfg_.email_change_ttl};
  if (auto ok = store_.one_time_tokens().put_token(t); !ok) {
    wipe(plain);
    return fail(ok.error());
  }
  MailMessage confirm;
  confirm.to = parsed->display;
  confirm.subject = "Confirm your new email address";
  confirm.text = fmt::format(
      "To make {} the address of your account, open this link within {} minutes:\r\n\r\n"
      "{}/confirm-email?token={}\r\n\r\nIf you did not ask for this, ignore this message.\r\n",
      parsed->display, minutes_of(cfg_.email_change_ttl), cfg_.public_url, plain);
  auto sent = mailer_.send(confirm);
  wipe(plain);
  wipe(confirm.text);
  if (!sent) return fail(sent.error());
  MailMessage notice;
  notice.to = user->email;
  notice.subject = "A change of your email address was requested";
  notice.text = fmt::format(
      "Someone signed in to your account asked to change its address from {} to {}. It changes "
      "only "
      "when the link we sent to the new address is opened.\r\n\r\nIf this was not you, change your "
      "password at {}/account and contact your administrator.\r\n",
      user->email, parsed->display, cfg_.public_url);
  if (auto n = mailer_.send(notice); !n)
    spdlog::warn("email change: the notice to the current address could not be queued: {}",
                 n.error().message());
  audit("user.email_change_request", "sent", user->id, user->id, meta);
  return {};
}

Result<store::User> RecoveryService::confirm_email_change(const SecretString& token,
                                                          const RequestMeta& meta) {
  auto consumed = consume_link(token, store::TokenPurpose::EmailChange, "user.email_change", meta);
  if (!consumed) return fail(consumed.error());
  const auto nl = consumed->data.find('\n');
  auto parsed = account::parse_email(nl == std::string::npos ? "" : consumed->data.substr(nl + 1));
  if (!parsed) return fail(RecoveryError::InvalidLink);
  const std::string old = consumed->data.substr(0, nl);
  auto changed = store_.users().update_email(consumed->user_id, old, parsed->display,
                                             parsed->normalized, clock_.now());
  if (!changed) {
    // The address moved on since the link was sent, or someone took the new one meanwhile.
    if (not_found(changed.error()) ||
        changed.error().code == make_error_code(store::StoreError::Conflict)) {
      audit("user.email_change", not_found(changed.error()) ? "stale_link" : "address_taken",
            "anonymous", consumed->user_id, meta);
      return fail(RecoveryError::InvalidLink);
    }
    return fail(changed.error());
  }
  for (auto purpose : {store::TokenPurpose::PasswordReset, store::TokenPurpose::EmailVerify,
                       store::TokenPurpose::EmailChange}) {
    if (auto n = store_.one_time_tokens().revoke_tokens(consumed->user_id, purpose); !n)
      spdlog::warn("email change: revoking other links failed: {}", n.error().message());
  }
  auto user = accounts_.load_user(consumed->user_id);  // refreshes the cache
  if (!user) return fail(user.error());
  audit("user.email_change", "success", user->id, user->id, meta);
  return user;
}

}  // namespace gh::service
