#include "service/accounts/accounts.h"

#include <spdlog/spdlog.h>

#include "core/account/email.h"
#include "service/sessions/form_guard.h"
#include "service/sessions/session_service.h"
#include "service/tokens/token_service.h"

namespace gh::service {

const char* describe(AccountError e) {
  switch (e) {
    case AccountError::EmailTaken: return "an account with this email already exists";
    case AccountError::InvalidCredentials: return "the email or password is incorrect";
    case AccountError::UnknownUser: return "unknown user";
    case AccountError::WrongPassword: return "wrong password";
    case AccountError::NoPassword: return "account has no password";
    case AccountError::Disabled: return "this account is disabled";
    case AccountError::EmailNotVerified: return "confirm your email address first: follow the link we sent you";
  }
  return "account error";
}
GH_DEFINE_ERROR_CATEGORY(AccountError, "account")

namespace {
bool is(const Error& e, store::StoreError s) { return e.code == make_error_code(s); }
}  // namespace

void AccountService::audit(std::string action, std::string result, std::string actor, std::string subject,
                           const RequestMeta& meta) {
  d_.audit.record(AuditEvent{std::move(action), std::move(result), std::move(actor), std::move(subject),
                             d_.clock.now(), meta});
}

Result<store::User> AccountService::register_user(RegisterInput in, const RequestMeta& meta) {
  auto email = account::parse_email(in.email);
  if (!email) return fail(email.error());
  auto name = account::parse_display_name(in.name);
  if (!name) return fail(name.error());
  auto pw = password::normalize_password(in.password.expose());
  if (!pw) return fail(pw.error());
  if (auto ok = d_.policy.check(*pw, {email->display, *name}); !ok) {
    audit("user.register", "weak_password", "anonymous", "", meta);
    return fail(ok.error());
  }
  // Hashed first: a taken address costs the same time as a new one.
  auto hash = d_.hasher.hash(*pw);
  if (!hash) return fail(hash.error());
  // Early answer for the common case; the unique index decides races.
  if (auto existing = d_.store.users().find_user_by_email(email->normalized); existing) {
    audit("user.register", "email_taken", "anonymous", existing->id, meta);
    return fail(AccountError::EmailTaken);
  } else if (!is(existing.error(), store::StoreError::NotFound)) {
    return fail(existing.error());
  }

  const Seconds now = d_.clock.now();
  store::User u;
  u.id = uuid_v4(d_.rng);
  u.email = std::move(email->display);
  u.email_normalized = std::move(email->normalized);
  u.name = std::move(*name);
  u.password_hash = std::move(*hash);
  u.created_at = now;
  u.updated_at = now;
  if (auto ok = d_.store.users().create_user(u); !ok) {
    if (is(ok.error(), store::StoreError::Conflict)) {
      audit("user.register", "email_taken", "anonymous", "", meta);
      return fail(AccountError::EmailTaken);
    }
    return fail(ok.error());
  }
  audit("user.register", "success", u.id, u.id, meta);
  return u;
}

Result<store::User> AccountService::login(LoginInput in, const RequestMeta& meta) {
  return authenticate(std::move(in), meta, "user.login");
}

Result<store::User> AccountService::reauthenticate(std::string_view user_id, SecretString password,
                                                   std::string device_token, const RequestMeta& meta) {
  auto user = d_.store.users().find_user_by_id(user_id);
  if (!user) {
    if (!is(user.error(), store::StoreError::NotFound)) return fail(user.error());
    (void)d_.hasher.verify(d_.hasher.dummy_hash(), password);  // same work as a wrong password
    return fail(AccountError::InvalidCredentials);
  }
  auto again = authenticate(LoginInput{user->email, std::move(password), std::move(device_token)}, meta,
                            "user.reauthenticate");
  if (again && again->id != user->id) return fail(AccountError::InvalidCredentials);  // cannot happen: emails are unique
  return again;
}

Result<store::User> AccountService::authenticate(LoginInput in, const RequestMeta& meta, std::string_view action_name) {
  const std::string action(action_name);
  // Normalise exactly as at registration. An un-normalisable password or email
  // cannot match any account, but still costs one hash so timing says nothing.
  auto pw = password::normalize_password(in.password.expose());
  auto email = account::parse_email(in.email);
  const SecretString& candidate = pw ? *pw : in.password;

  Result<store::User> user = email ? d_.store.users().find_user_by_email(email->normalized)
                                   : Result<store::User>(fail(store::StoreError::NotFound));
  if (!user && !is(user.error(), store::StoreError::NotFound)) return fail(user.error());

  // Lockout: the attempt is counted before the password is checked (atomic
  // reserve-then-verify); a locked source or account gets the answer of a
  // wrong password after the same work, so the lock reveals nothing.
  std::optional<account::AttemptStep> step;
  if (d_.lockout && email) {
    const bool known = d_.devices && d_.devices->check(email->normalized, in.device_token);
    auto begun = d_.store.lockout().begin_login_attempt(email->normalized, meta.ip, d_.clock.now(), *d_.lockout, known);
    if (!begun) return fail(begun.error());
    step = *begun;
    if (step->verdict != account::AttemptVerdict::Proceed) {
      (void)d_.hasher.verify(d_.hasher.dummy_hash(), candidate);
      audit(action, step->verdict == account::AttemptVerdict::SourceLocked ? "locked_source" : "locked_account",
            "anonymous", user ? user->id : "", meta);
      return fail(AccountError::InvalidCredentials);
    }
  }

  const bool has_password = user && !user->password_hash.empty();
  const std::string_view stored = has_password ? std::string_view(user->password_hash)
                                               : std::string_view(d_.hasher.dummy_hash());
  const bool verified = d_.hasher.verify(stored, candidate) && has_password && pw.has_value();

  if (!verified) {
    const char* reason = !user ? "unknown_user" : (has_password ? "wrong_password" : "no_password");
    audit(action, reason, "anonymous", user ? user->id : "", meta);
    if (step && (step->source_locked_now || step->account_locked_now))
      audit("user.lockout", step->account_locked_now ? "account" : "source", "system", user ? user->id : "", meta);
    return fail(AccountError::InvalidCredentials);
  }
  if (step) {
    // Counters reset on success (this source and the account-wide one). Best effort:
    // a failure leaves a counter that expires with its window.
    if (auto cleared = d_.store.lockout().clear_login_attempts(email->normalized, meta.ip); !cleared)
      spdlog::warn("lockout: clearing counters after a success failed: {}", cleared.error().message());
  }
  if (user->disabled) {
    audit(action, "disabled", user->id, user->id, meta);
    return fail(AccountError::Disabled);
  }
  // Only after the password verified: an unconfirmed address reveals nothing to a guesser.
  if (d_.require_verified_email && !user->email_verified && action == "user.login") {
    audit(action, "email_not_verified", user->id, user->id, meta);
    return fail(AccountError::EmailNotVerified);
  }
  if (d_.hasher.needs_rehash(user->password_hash)) {
    // Best effort: a failure here must not fail the login, and the CAS keeps a
    // concurrent password change from being overwritten.
    if (auto fresh = d_.hasher.hash(*pw); fresh) {
      if (d_.store.users().update_password_hash(user->id, user->password_hash, *fresh, d_.clock.now()))
        user->password_hash = std::move(*fresh);
    }
  }
  // A sign-in is audited as a success only when it gets its session or tokens (the caller passes
  // `login` to SessionService::replace / TokenService::issue), or as user.login.mfa_pending when a
  // second factor follows (MfaService::challenge_after_password). Re-authentication ends here.
  if (action != "user.login") audit(action, "success", user->id, user->id, meta);
  return user;
}

Result<PasswordChanged> AccountService::change_password(PasswordChangeInput in, const RequestMeta& meta) {
  auto user = d_.store.users().find_user_by_id(in.user_id);
  if (!user) return fail(is(user.error(), store::StoreError::NotFound) ? Error{make_error_code(AccountError::InvalidCredentials), ""} : user.error());
  auto current = password::normalize_password(in.current_password.expose());
  const bool ok = current && !user->password_hash.empty() && d_.hasher.verify(user->password_hash, *current);
  if (!ok) {
    audit("user.password_change", "wrong_password", user->id, user->id, meta);
    return fail(AccountError::InvalidCredentials);
  }
  if (auto ok = store_new_password(*user, in.new_password, "user.password_change", meta); !ok) return fail(ok.error());
  revoke_pending_links(user->id);
  PasswordChanged out{*user, ""};
  if (d_.tokens) {
    if (auto st = d_.tokens->revoke_others(user->id, in.keep_family, "password_change", meta); !st) return fail(st.error());
    if (!in.caller_jti.empty()) {
      if (auto st = d_.tokens->deny_access(in.caller_jti, in.caller_exp); !st) return fail(st.error());
    }
    if (!in.keep_family.empty()) {
      auto access = d_.tokens->mint_access(*user, in.keep_family, in.auth_time, in.client_id, in.amr);
      if (!access) return fail(access.error());
      out.access_token = std::move(*access);
    }
  }
  if (d_.sessions) {
    if (auto n = d_.sessions->revoke_all(user->id, in.keep_session, meta); !n) return fail(n.error());
  }
  audit("user.password_change", "success", user->id, user->id, meta);
  return out;
}

Status AccountService::store_new_password(store::User& user, const SecretString& raw, std::string_view action,
                                          const RequestMeta& meta) {
  auto next = password::normalize_password(raw.expose());
  if (!next) return fail(next.error());
  if (auto good = d_.policy.check(*next, {user.email, user.name}); !good) {
    audit(std::string(action), "weak_password", user.id, user.id, meta);
    return fail(good.error());
  }
  auto hash = d_.hasher.hash(*next);
  if (!hash) return fail(hash.error());
  // Compare-and-swap on the old hash: a concurrent change is not overwritten.
  if (auto st = d_.store.users().update_password_hash(user.id, user.password_hash, *hash, d_.clock.now()); !st)
    return fail(st.error());
  user.password_hash = std::move(*hash);
  forget(user.id);
  return {};
}

Status AccountService::check_password_policy(const SecretString& normalized, const store::User& user) const {
  return d_.policy.check(normalized, {user.email, user.name});
}

Result<store::User> AccountService::reset_password(std::string_view user_id, SecretString new_password,
                                                   const RequestMeta& meta) {
  auto user = d_.store.users().find_user_by_id(user_id);
  if (!user) return fail(user.error());
  if (auto ok = store_new_password(*user, new_password, "user.password_reset", meta); !ok) return fail(ok.error());
  // Whoever knew the old password is out: every session, family and access token.
  if (auto ok = end_everything(user->id, "password_reset", meta); !ok) return fail(ok.error());
  if (auto n = d_.store.lockout().unlock_account(user->email_normalized); !n)
    spdlog::warn("password reset: clearing lockout counters failed: {}", n.error().message());
  audit("user.password_reset", "success", user->id, user->id, meta);
  return user;
}

std::string AccountService::device_token_for(const store::User& user) {
  return d_.devices ? d_.devices->issue(user.email_normalized) : std::string();
}

Status AccountService::unlock(std::string_view id_or_email, const RequestMeta& meta, std::string_view actor) {
  // The counters are keyed by normalised email, so an address without an account can be unlocked too.
  std::string key;
  std::string subject;
  if (auto u = find_user(id_or_email); u) {
    key = u->email_normalized;
    subject = u->id;
  } else if (auto e = account::parse_email(id_or_email); e) {
    key = e->normalized;
  } else {
    return fail(store::StoreError::NotFound);
  }
  auto n = d_.store.lockout().unlock_account(key);
  if (!n) return fail(n.error());
  audit("user.unlock", "success", std::string(actor), subject, meta);
  return {};
}

void AccountService::revoke_pending_links(std::string_view user_id) {
  // An email-change link or a sign-in challenge in flight is as much "signed in elsewhere"
  // as a session: it must not outlive a password change, a reset or "sign out everywhere".
  for (auto purpose : {store::TokenPurpose::EmailChange, store::TokenPurpose::MfaChallenge}) {
    if (auto n = d_.store.one_time_tokens().revoke_tokens(user_id, purpose); !n)
      spdlog::warn("revoking pending links failed: {}", n.error().message());
  }
}

Status AccountService::logout_all(std::string_view user_id, const RequestMeta& meta) {
  revoke_pending_links(user_id);
  if (d_.tokens) {
    if (auto st = d_.tokens->logout_all(user_id, meta); !st) return st;
  }
  if (d_.sessions) {
    if (auto n = d_.sessions->revoke_all(user_id, "", meta); !n) return fail(n.error());
  }
  return {};
}

std::optional<store::User> AccountService::cached_user(std::string_view id) const {
  auto e = cached_user_shared(id);
  if (!e) return std::nullopt;
  return e->user;
}

std::shared_ptr<const AccountService::SharedUser> AccountService::cached_user_shared(std::string_view id) const {
  std::shared_lock lock(cache_mu_);
  const auto it = cache_.find(id);
  if (it == cache_.end() || d_.clock.now() - it->second.loaded >= kCacheTtl) return nullptr;
  return it->second.entry;
}

Result<store::User> AccountService::load_user(std::string_view id) {
  auto u = d_.store.users().find_user_by_id(id);
  if (!u) {
    forget(id);
    return u;
  }
  std::unique_lock lock(cache_mu_);
  if (cache_.size() >= kCacheMax) cache_.erase(cache_.begin());  // bounded; it is only a cache
  auto entry = std::make_shared<SharedUser>();
  entry->user = *u;
  cache_.insert_or_assign(u->id, Cached{std::move(entry), d_.clock.now()});
  return u;
}

void AccountService::forget(std::string_view id) {
  std::unique_lock lock(cache_mu_);
  cache_.erase(std::string(id));
}

Result<store::UserPage> AccountService::list_users(std::optional<std::string> after, std::size_t limit,
                                                   std::optional<std::string> email_contains) {
  std::optional<std::string> folded;
  if (email_contains) folded = account::fold_case(*email_contains);
  return d_.store.users().list_users(after ? std::optional<std::string_view>(*after) : std::nullopt, limit,
                                     folded ? std::optional<std::string_view>(*folded) : std::nullopt);
}

Result<store::User> AccountService::find_user(std::string_view id_or_email) {
  if (id_or_email.find('@') != std::string_view::npos) {
    auto email = account::parse_email(id_or_email);
    if (!email) return fail(store::StoreError::NotFound);
    return d_.store.users().find_user_by_email(email->normalized);
  }
  return d_.store.users().find_user_by_id(id_or_email);
}

Status AccountService::end_everything(std::string_view id, std::string_view reason, const RequestMeta& meta) {
  // Refresh families, their access tokens, any other access token of the
  // user, and browser sessions: nothing issued before now survives, and
  // re-enabling the account later revives none of it.
  revoke_pending_links(id);
  if (d_.tokens) {
    if (auto ok = d_.tokens->revoke_user(id, reason, meta); !ok) return ok;
  }
  if (d_.sessions) {
    if (auto n = d_.sessions->revoke_all(id, "", meta); !n) return fail(n.error());
  }
  return {};
}

Status AccountService::set_disabled(std::string_view id, bool disabled, const RequestMeta& meta,
                                    std::string_view actor) {
  auto r = d_.store.users().set_disabled(id, disabled, d_.clock.now());
  forget(id);
  if (r && disabled) {
    if (auto ok = end_everything(id, "disabled", meta); !ok) return ok;
  }
  audit(disabled ? "user.disable" : "user.enable", r ? "success" : "not_found", std::string(actor), std::string(id),
        meta);
  return r;
}

Status AccountService::delete_user(std::string_view id, const RequestMeta& meta, std::string_view actor) {
  if (auto found = d_.store.users().find_user_by_id(id); found) {
    if (auto ok = end_everything(id, "deleted", meta); !ok) return ok;
  }
  auto r = d_.store.users().delete_user(id);
  forget(id);
  audit("user.delete", r ? "success" : "not_found", std::string(actor), std::string(id), meta);
  return r;
}

LoginOutcome outcome_of(const Result<store::User>& r) {
  if (r) return LoginOutcome::Success;
  if (r.error().code == make_error_code(AccountError::InvalidCredentials)) return LoginOutcome::InvalidCredentials;
  if (r.error().code == make_error_code(AccountError::Disabled) ||
      r.error().code == make_error_code(AccountError::EmailNotVerified))
    return LoginOutcome::Disabled;  // refused after the password verified
  return LoginOutcome::Error;
}

}  // namespace gh::service
