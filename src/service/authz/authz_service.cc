#include "service/authz/authz_service.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/account/email.h"
#include "core/base/secret.h"
#include "core/json/json.h"

namespace gh::service {

const char* describe(AuthzFailure e) {
  switch (e) {
    case AuthzFailure::Forbidden:
      return "you are not allowed to do this";
    case AuthzFailure::NotFound:
      return "not found";
    case AuthzFailure::UnknownRole:
      return "the role is not in the authorization policy";
    case AuthzFailure::AlreadyMember:
      return "the user is already a member of this tenant";
    case AuthzFailure::LastAdmin:
      return "the tenant would be left without an admin";
    case AuthzFailure::ReauthRequired:
      return "this operation needs a recent authentication";
    case AuthzFailure::InvalidClient:
      return "unknown service client or wrong secret";
    case AuthzFailure::InvalidName:
      return "the name must be 1 to 100 characters without control characters";
  }
  return "authorization error";
}
GH_DEFINE_ERROR_CATEGORY(AuthzFailure, "authz")

namespace {

constexpr char kSep = '\x1f';  // cannot occur in ids: they are UUIDs or "svc_" + base64url

std::string membership_key(std::string_view tenant, std::string_view user) {
  std::string k = "m";
  k.append(1, kSep).append(tenant).append(1, kSep).append(user);
  return k;
}
std::string admin_key(std::string_view user) { return std::string("a") + kSep + std::string(user); }
std::string client_key(std::string_view id) { return std::string("c") + kSep + std::string(id); }

bool not_found(const Error& e) { return e.code == make_error_code(store::StoreError::NotFound); }

}  // namespace

Result<std::string> clean_name(std::string_view name) {
  auto cleaned = account::parse_display_name(name, 100);
  if (!cleaned || cleaned->empty()) return fail(AuthzFailure::InvalidName);
  return cleaned;
}

AuthzService::AuthzService(store::Store& store, AccountService& accounts, TokenService& tokens,
                           authz::Policy policy, Clock& clock, AuditSink& audit, AuthzConfig config)
    : store_(store),
      accounts_(accounts),
      tokens_(tokens),
      policy_(std::move(policy)),
      clock_(clock),
      audit_(audit),
      cfg_(std::move(config)) {}

// ---- Cache ------------------------------------------------------------------

std::optional<std::string> AuthzService::lookup(const std::string& key) const {
  if (cfg_.cache_entries == 0) return std::nullopt;
  std::lock_guard lock(mu_);
  const auto it = cache_.find(key);
  if (it == cache_.end() || clock_.now() >= it->second.fresh_until) return std::nullopt;
  return it->second.value;
}

void AuthzService::remember(std::string key, std::string value, std::uint64_t epoch) {
  if (cfg_.cache_entries == 0) return;
  const Seconds now = clock_.now();
  std::lock_guard lock(mu_);
  // An eviction since the store read began may have been for this very key.
  if (epoch_.load() != epoch) return;
  if (cache_.size() >= cfg_.cache_entries && !cache_.contains(key)) {
    std::erase_if(cache_, [now](const auto& kv) { return now >= kv.second.fresh_until; });
    if (cache_.size() >= cfg_.cache_entries)
      cache_.erase(cache_.begin());  // only a cache: drop any entry
  }
  cache_.insert_or_assign(std::move(key), Entry{std::move(value), now + cfg_.cache_ttl});
}

Result<std::string> AuthzService::load(const std::string& key,
                                       const std::function<Result<std::string>()>& read) {
  if (auto hit = lookup(key)) return *hit;
  const std::uint64_t epoch = epoch_.load();
  auto value = read();
  if (!value) return fail(value.error());
  remember(key, *value, epoch);
  return value;
}

void AuthzService::forget_membership(std::string_view tenant, std::string_view user_id) {
  epoch_.fetch_add(1);
  std::lock_guard lock(mu_);
  cache_.erase(membership_key(tenant, user_id));
}

void AuthzService::forget_tenant(std::string_view tenant) {
  epoch_.fetch_add(1);
  const std::string prefix = membership_key(tenant, "");
  std::lock_guard lock(mu_);
  std::erase_if(cache_, [&](const auto& kv) { return kv.first.starts_with(prefix); });
  // Its service clients go with it: drop every client entry (rare, and cheap to reload).
  std::erase_if(cache_, [](const auto& kv) { return kv.first.starts_with('c'); });
}

void AuthzService::forget_user(std::string_view user_id) {
  epoch_.fetch_add(1);
  std::lock_guard lock(mu_);
  cache_.erase(admin_key(user_id));
  const std::string suffix = std::string(1, kSep) + std::string(user_id);
  std::erase_if(cache_, [&](const auto& kv) {
    return kv.first.starts_with('m') && kv.first.ends_with(suffix);
  });
}

void AuthzService::forget_client(std::string_view id) {
  epoch_.fetch_add(1);
  std::lock_guard lock(mu_);
  cache_.erase(client_key(id));
}

// ---- Decisions --------------------------------------------------------------

std::optional<authz::Subject> AuthzService::subject_cached(std::string_view user_id,
                                                           std::string_view tenant) const {
  const auto user = accounts_.cached_user_shared(user_id);
  if (!user) return std::nullopt;
  if (user->user.disabled) return authz::Subject{};
  auto admin = lookup(admin_key(user_id));
  if (!admin) return std::nullopt;
  auto role = lookup(membership_key(tenant, user_id));
  if (!role) return std::nullopt;
  return authz::Subject{true, !admin->empty(), std::move(*role)};
}

Result<authz::Subject> AuthzService::subject(std::string_view user_id, std::string_view tenant) {
  if (auto hit = subject_cached(user_id, tenant)) return *hit;
  // One look at the user (the cached entry may expire or be evicted between two).
  bool disabled = false;
  if (const auto cached = accounts_.cached_user_shared(user_id)) {
    disabled = cached->user.disabled;
  } else {
    auto user = accounts_.load_user(user_id);  // refreshes the accounts cache
    if (!user) {
      if (not_found(user.error())) return authz::Subject{};
      return fail(user.error());
    }
    disabled = user->disabled;
  }
  if (disabled) return authz::Subject{};
  auto admin = load(admin_key(user_id), [&]() -> Result<std::string> {
    auto a = store_.tenants().is_platform_admin(user_id);
    if (!a) return fail(a.error());
    return std::string(*a ? "1" : "");
  });
  if (!admin) return fail(admin.error());
  auto role = load(membership_key(tenant, user_id), [&]() -> Result<std::string> {
    if (tenant.empty()) return std::string();
    auto m = store_.tenants().find_membership(tenant, user_id);
    if (!m) {
      if (not_found(m.error())) return std::string();
      return fail(m.error());
    }
    return std::move(m->role);
  });
  if (!role) return fail(role.error());
  return authz::Subject{true, !admin->empty(), std::move(*role)};
}

authz::Decision AuthzService::decide_one(const authz::Subject& s, const CheckRequest& c) const {
  return authz::decide(policy_, s, c.resource, c.action);
}

std::optional<std::vector<authz::Decision>> AuthzService::check_cached(
    std::span<const CheckRequest> checks) const {
  std::vector<authz::Decision> out;
  out.reserve(checks.size());
  for (const auto& c : checks) {
    auto s = subject_cached(c.subject, c.tenant);
    if (!s) return std::nullopt;
    out.push_back(decide_one(*s, c));
  }
  return out;
}

Result<std::vector<authz::Decision>> AuthzService::check(std::span<const CheckRequest> checks) {
  std::vector<authz::Decision> out;
  out.reserve(checks.size());
  for (const auto& c : checks) {
    auto s = subject(c.subject, c.tenant);
    if (!s) return fail(s.error());
    out.push_back(decide_one(*s, c));
  }
  return out;
}

Status AuthzService::scope_checks(std::vector<CheckRequest>& checks, const Asker& who) const {
  for (auto& c : checks) {
    if (who.client) {
      if (c.subject.empty()) return fail(json::JsonError::MissingField, "subject");
    } else if (c.subject.empty()) {
      c.subject = who.user_id;
    } else if (c.subject != who.user_id) {
      return fail(AuthzFailure::Forbidden, "a user may only ask about their own permissions");
    }
  }
  return {};
}

void AuthzService::as_seen_by(std::span<const CheckRequest> checks, const Asker& who,
                              std::vector<authz::Decision>& out) {
  if (!who.client) return;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    auto& d = out[i];
    if (checks[i].tenant != who.client->tenant_id)
      d = authz::Decision{false, authz::Reason::NotMember};
    if (d.reason == authz::Reason::NotAuthenticated) d.reason = authz::Reason::NotMember;
    if (d.reason == authz::Reason::PlatformAdmin) d.reason = authz::Reason::Granted;
  }
}

std::optional<std::vector<authz::Decision>> AuthzService::answer_cached(
    std::span<const CheckRequest> checks, const Asker& who) const {
  auto out = check_cached(checks);
  if (out) as_seen_by(checks, who, *out);
  return out;
}

Result<std::vector<authz::Decision>> AuthzService::answer(std::span<const CheckRequest> checks,
                                                          const Asker& who) {
  auto out = check(checks);
  if (out) as_seen_by(checks, who, *out);
  return out;
}

Status AuthzService::require(std::string_view user_id, std::string_view tenant,
                             std::string_view resource, std::string_view action) {
  auto s = subject(user_id, tenant);
  if (!s) return fail(s.error());
  if (!authz::decide(policy_, *s, resource, action).allow) return fail(AuthzFailure::Forbidden);
  return {};
}

Status AuthzService::require_platform_admin(std::string_view user_id) {
  auto s = subject(user_id, "");
  if (!s) return fail(s.error());
  if (!s->authenticated || !s->platform_admin) return fail(AuthzFailure::Forbidden);
  return {};
}

Status AuthzService::require_recent(Seconds auth_time) const {
  if (clock_.now() - auth_time > cfg_.reauth_window) return fail(AuthzFailure::ReauthRequired);
  return {};
}

// ---- Service clients --------------------------------------------------------

namespace {
// Compared against for an unknown client id (64 hex digits, like a real hash, matching none).
constexpr std::string_view kNoClient =
    "----------------------------------------------------------------";
// The cached value of a client: its tenant and secret hash.
std::string client_value(const store::ServiceClient& c) {
  return c.tenant_id + '\n' + c.secret_hash;
}

Result<ClientIdentity> match_client(std::string_view id, std::string_view value,
                                    std::string_view secret) {
  // value is "" for an unknown id: it is hashed and compared all the same, so
  // the answer takes as long as a wrong secret's.
  const auto nl = value.find('\n');
  const std::string presented = token_hash(secret);
  const std::string_view stored =
      nl == std::string_view::npos ? std::string_view(kNoClient) : value.substr(nl + 1);
  if (!constant_time_equal(presented, stored) || nl == std::string_view::npos)
    return fail(AuthzFailure::InvalidClient);
  return ClientIdentity{std::string(id), std::string(value.substr(0, nl))};
}
}  // namespace

std::optional<Result<ClientIdentity>> AuthzService::client_cached(std::string_view id,
                                                                  std::string_view secret) const {
  auto value = lookup(client_key(id));
  if (!value) return std::nullopt;
  return match_client(id, *value, secret);
}

Result<ClientIdentity> AuthzService::authenticate_client(std::string_view id,
                                                         std::string_view secret) {
  if (id.empty() || id.size() > 64 || secret.size() > 256) return fail(AuthzFailure::InvalidClient);
  auto value = load(client_key(id), [&]() -> Result<std::string> {
    auto c = store_.tenants().find_service_client(id);
    if (!c) {
      if (not_found(c.error()))
        return std::string();  // cached too: probing unknown ids costs no store reads
      return fail(c.error());
    }
    return client_value(*c);
  });
  if (!value) return fail(value.error());
  return match_client(id, *value, secret);
}

// ---- Tenant tokens ----------------------------------------------------------

Result<TenantToken> AuthzService::tenant_token(const AccessClaims& caller, std::string_view tenant,
                                               const RequestMeta& meta) {
  auto s = subject(caller.sub, tenant);
  if (!s) return fail(s.error());
  auto audit = [&](std::string result) {
    audit_.record(AuditEvent{"token.tenant", std::move(result), caller.sub, caller.sub,
                             clock_.now(), meta, std::string(tenant)});
  };
  if (!s->authenticated || (s->role_in_tenant.empty() && !s->platform_admin)) {
    audit("forbidden");
    return fail(AuthzFailure::Forbidden);
  }
  if (s->role_in_tenant.empty()) {
    // A platform admin who is not a member: only for a tenant that exists.
    if (auto t = store_.tenants().find_tenant(tenant); !t) {
      if (!not_found(t.error())) return fail(t.error());
      audit("forbidden");
      return fail(AuthzFailure::Forbidden);
    }
  }
  const std::string role = s->role_in_tenant.empty() ? "admin" : s->role_in_tenant;
  auto user = accounts_.load_user(caller.sub);
  if (!user)
    return fail(not_found(user.error()) ? Error{make_error_code(AuthzFailure::Forbidden), ""}
                                        : user.error());
  // Never later than the token presented: exchanging cannot extend a stolen
  // token's life, nor outlive a session or family that ends with it.
  auto token = tokens_.mint_access(*user, caller.sid, caller.auth_time, caller.client_id, caller.amr,
                                   TenantClaims{std::string(tenant), role}, caller.exp);
  if (!token) return fail(token.error());
  audit("success");
  return TenantToken{std::move(*token), lifetime_left(caller), std::string(tenant), role};
}

std::chrono::seconds AuthzService::lifetime_left(const AccessClaims& caller) const {
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(caller.exp - clock_.now());
  return std::clamp(left, std::chrono::seconds{0}, tokens_.config().access_ttl);
}

Result<TenantToken> AuthzService::reauthenticated_token(const AccessClaims& caller,
                                                        const store::User& user, std::string_view amr) {
  // The tenant and role come from the membership now, not from the old token:
  // a member removed since keeps nothing by re-authenticating.
  TenantClaims claims;
  if (!caller.tenant.empty()) {
    auto s = subject(caller.sub, caller.tenant);
    if (!s) return fail(s.error());
    if (s->authenticated && (!s->role_in_tenant.empty() || s->platform_admin))
      claims = TenantClaims{caller.tenant,
                            s->role_in_tenant.empty() ? std::string("admin") : s->role_in_tenant};
  }
  // A fresh auth_time; exp no later than the token presented (the session or family it belongs to
  // still rules).
  auto token =
      tokens_.mint_access(user, caller.sid, Seconds{}, caller.client_id, amr, claims, caller.exp);
  if (!token) return fail(token.error());
  return TenantToken{std::move(*token), lifetime_left(caller), claims.tenant, claims.role};
}

}  // namespace gh::service
