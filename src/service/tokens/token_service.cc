#include "service/tokens/token_service.h"

#include <functional>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/base/encoding.h"

namespace gh::service {

const char* describe(TokenError e) {
  switch (e) {
    case TokenError::InvalidToken: return "the access token is not valid";
    case TokenError::TokenExpired: return "the access token has expired";
    case TokenError::TokenRevoked: return "the access token has been revoked";
    case TokenError::InvalidRefresh: return "the refresh token is not valid";
    case TokenError::RefreshExpired: return "the refresh token has expired";
    case TokenError::RefreshReused: return "the refresh token was already used; the session has been revoked";
  }
  return "token error";
}
GH_DEFINE_ERROR_CATEGORY(TokenError, "tokens")

std::string token_hash(std::string_view token) { return hex_encode(sha256(token)); }

namespace {
bool is(const Error& e, store::StoreError s) { return e.code == make_error_code(s); }
std::int64_t secs(Seconds t) { return t.time_since_epoch().count(); }
}  // namespace

TokenService::TokenService(store::Store& store, KeyManager& keys, const crypto::Kek& kek, Clock& clock, Random& rng,
                           AuditSink& audit, TokenConfig config)
    : store_(store),
      keys_(keys),
      clock_(clock),
      rng_(rng),
      audit_(audit),
      cfg_(std::move(config)),
      refresh_key_(kek.derive("gatehouse/refresh-child/v1")) {}

void TokenService::audit(std::string action, std::string result, std::string actor, std::string subject,
                         const RequestMeta& meta) {
  audit_.record(AuditEvent{std::move(action), std::move(result), std::move(actor), std::move(subject), clock_.now(), meta});
}

std::string TokenService::child_of(std::string_view parent) const {
  return base64url_encode(crypto::hmac_sha256(refresh_key_.expose(), parent));
}

Result<std::string> TokenService::mint_access(const store::User& user, std::string_view family_id, Seconds auth_time,
                                              std::string_view client_id, std::string_view amr,
                                              const TenantClaims& tenant, Seconds not_after) {
  const auto snap = keys_.snapshot();
  if (!snap->active) return fail(KeyError::NoActiveKey);
  const Seconds now = clock_.now();
  if (auth_time == Seconds{}) auth_time = now;  // as in issue(): the caller just authenticated
  Seconds exp = now + cfg_.access_ttl;
  if (not_after != Seconds{}) exp = std::min(exp, not_after);
  nlohmann::json claims = {{"iss", cfg_.issuer},
                           {"sub", user.id},
                           {"aud", cfg_.audience},
                           {"exp", secs(exp)},
                           {"iat", secs(now)},
                           {"nbf", secs(now)},
                           {"jti", random_token(rng_, 16)},
                           {"auth_time", secs(auth_time)},
                           {"sid", family_id},
                           {"client_id", client_id.empty() ? std::string_view("gatehouse") : client_id}};
  if (!amr.empty()) {
    auto& list = claims["amr"] = nlohmann::json::array();
    for (std::size_t at = 0; at < amr.size();) {
      const auto end = std::min(amr.find(' ', at), amr.size());
      if (end > at) list.push_back(amr.substr(at, end - at));
      at = end + 1;
    }
  }
  if (!tenant.tenant.empty()) {
    claims["tenant"] = tenant.tenant;
    claims["role"] = tenant.role;
  }
  auto token = jwt::sign_jwt(*snap->active, claims);
  if (!token) return fail(token.error());
  return token;
}

Result<IssuedTokens> TokenService::pair_for(const store::User& user, const store::RefreshToken& row,
                                            std::string refresh_plain) {
  auto access = mint_access(user, row.family_id, row.auth_time, row.client_id, row.amr);
  if (!access) {
    wipe(refresh_plain);
    return fail(access.error());
  }
  return IssuedTokens{std::move(*access), cfg_.access_ttl, SecretString(std::move(refresh_plain)), row.expires_at,
                      row.family_id};
}

Result<IssuedTokens> TokenService::issue(const store::User& user, Seconds auth_time,
                                         std::string_view client_id, std::string_view amr,
                                         const RequestMeta& meta, std::string_view login) {
  if (!keys_.snapshot()->active) return fail(KeyError::NoActiveKey);
  const Seconds now = clock_.now();
  if (auth_time == Seconds{}) auth_time = now;
  store::RefreshFamily fam{uuid_v4(rng_), user.id, now, std::nullopt, ""};
  std::string plain = random_token(rng_, 32);
  store::RefreshToken row;
  row.hash = token_hash(plain);
  row.family_id = fam.id;
  row.user_id = user.id;
  row.created_at = now;
  row.expires_at = now + cfg_.refresh_ttl;
  row.auth_time = auth_time;
  row.client_id = std::string(client_id);
  row.amr = std::string(amr);
  if (auto ok = store_.tokens().create_family(fam, row); !ok) {
    wipe(plain);
    return fail(ok.error());
  }
  audit("token.issue", "success", user.id, fam.id, meta);
  if (!login.empty()) audit("user.login", "success", user.id, std::string(login), meta);
  return pair_for(user, row, std::move(plain));
}

Result<IssuedTokens> TokenService::refresh(const SecretString& refresh_token, const RequestMeta& meta) {
  const Seconds now = clock_.now();
  const std::string hash = token_hash(refresh_token.expose());
  auto row = store_.tokens().find_refresh(hash);
  if (!row) {
    if (!is(row.error(), store::StoreError::NotFound)) return fail(row.error());
    audit("token.refresh", "unknown_token", "anonymous", "", meta);
    return fail(TokenError::InvalidRefresh);
  }
  std::string child_plain = child_of(refresh_token.expose());
  store::RefreshToken child;
  child.hash = token_hash(child_plain);
  child.family_id = row->family_id;
  child.user_id = row->user_id;
  child.parent_hash = hash;
  child.created_at = now;
  // Sliding 7 days, but never past auth_time + the absolute lifetime: a stolen
  // token refreshed forever still dies (ASVS 10.4.8).
  child.expires_at = std::min(now + cfg_.refresh_ttl, row->auth_time + cfg_.refresh_absolute_ttl);
  child.auth_time = row->auth_time;
  child.client_id = row->client_id;
  child.amr = row->amr;

  if (child.expires_at <= now) {
    wipe(child_plain);
    audit("token.refresh", "absolute_lifetime", row->user_id, row->family_id, meta);
    return fail(TokenError::RefreshExpired);
  }
  auto r = store_.tokens().rotate(hash, child, now);
  if (!r) {
    wipe(child_plain);
    return fail(r.error());
  }
  const store::RefreshToken* live_child = nullptr;
  switch (r->outcome) {
    case store::RotateOutcome::Rotated: live_child = &child; break;
    case store::RotateOutcome::NotFound:
      wipe(child_plain);
      return fail(TokenError::InvalidRefresh);
    case store::RotateOutcome::NotActive: {
      const auto& cur = r->current;
      if ((r->family && r->family->revoked_at) || cur.status == store::RefreshStatus::Revoked) {
        wipe(child_plain);
        audit("token.refresh", "revoked_token", cur.user_id, cur.family_id, meta);
        return fail(TokenError::InvalidRefresh);
      }
      if (cur.status == store::RefreshStatus::Active) {  // still active, so it failed on expiry
        wipe(child_plain);
        audit("token.refresh", "expired", cur.user_id, cur.family_id, meta);
        return fail(TokenError::RefreshExpired);
      }
      // Rotated: the same child again only for the immediate parent, inside the window.
      const bool in_grace = cur.rotated_at && now - *cur.rotated_at < cfg_.refresh_grace;
      if (in_grace && r->child && r->child->status == store::RefreshStatus::Active && r->child->hash == child.hash) {
        live_child = &*r->child;
        audit("token.refresh", "grace_replay", cur.user_id, cur.family_id, meta);
        break;
      }
      wipe(child_plain);
      if (auto ok = store_.tokens().revoke_family(cur.family_id, "reuse", now); !ok) return fail(ok.error());
      if (auto ok = deny_families({cur.family_id}); !ok) return fail(ok.error());
      spdlog::warn("refresh token reuse detected; family revoked (user {})", cur.user_id);
      audit("token.refresh_reuse", "family_revoked", cur.user_id, cur.family_id, meta);
      return fail(TokenError::RefreshReused);
    }
  }
  auto user = store_.users().find_user_by_id(live_child->user_id);
  if (!user || user->disabled) {
    wipe(child_plain);
    if (!user && !is(user.error(), store::StoreError::NotFound)) return fail(user.error());
    audit("token.refresh", user ? "disabled" : "unknown_user", live_child->user_id, live_child->family_id, meta);
    return fail(TokenError::InvalidRefresh);
  }
  if (r->outcome == store::RotateOutcome::Rotated) audit("token.refresh", "success", user->id, child.family_id, meta);
  return pair_for(*user, *live_child, std::move(child_plain));
}

bool TokenService::revoked(const AccessClaims& c) const {
  std::shared_lock lock(rev_mu_);
  if (!rev_.jtis.empty() && (rev_.jtis.contains(c.jti) || (!c.sid.empty() && rev_.jtis.contains("sid:" + c.sid))))
    return true;
  if (!rev_.not_before.empty()) {
    const auto it = rev_.not_before.find(c.sub);
    if (it != rev_.not_before.end() && c.iat < it->second) return true;
  }
  return false;
}

Result<AccessClaims> TokenService::verify_access(std::string_view token) {
  const Seconds now = clock_.now();
  const auto snap = keys_.snapshot();
  CacheShard& shard = cache_[std::hash<std::string_view>{}(token) % kShards];
  std::optional<AccessClaims> claims;
  if (cfg_.cache_entries > 0) {
    std::lock_guard lock(shard.mu);
    const auto it = shard.map.find(token);  // no temporary string on the hot path
    if (it != shard.map.end()) {
      // Expired, or verified under another key set (a key was retired since): verify again.
      if (now > it->second.claims.exp + cfg_.leeway || it->second.generation != snap->generation) {
        shard.map.erase(it);
      } else {
        claims = it->second.claims;
      }
    }
  }
  if (!claims) {
    jwt::VerifyOptions opts;
    opts.issuer = cfg_.issuer;
    opts.audience = cfg_.audience;
    opts.leeway = cfg_.leeway;
    auto v = jwt::verify_jwt(token, snap->verify, opts, now);
    if (!v) {
      if (v.error().code == make_error_code(jwt::JwtError::Expired)) return fail(TokenError::TokenExpired);
      // The precise reason stays here (debug log); the client gets one uniform answer.
      spdlog::debug("access token refused: {}", v.error().message());
      return fail(TokenError::InvalidToken);
    }
    const auto& j = v->claims;
    AccessClaims c;
    try {
      c.sub = j.at("sub").get<std::string>();
      c.jti = j.at("jti").get<std::string>();
      c.sid = j.value("sid", "");
      c.client_id = j.value("client_id", "");
      c.tenant = j.value("tenant", "");
      c.role = j.value("role", "");
      if (auto it = j.find("amr"); it != j.end()) {
        for (const auto& m : it->get_ref<const nlohmann::json::array_t&>()) {
          if (!c.amr.empty()) c.amr += ' ';
          c.amr += m.get_ref<const std::string&>();
        }
      }
      c.iat = Seconds{std::chrono::seconds{j.at("iat").get<std::int64_t>()}};
      c.exp = Seconds{std::chrono::seconds{j.at("exp").get<std::int64_t>()}};
      c.auth_time = Seconds{std::chrono::seconds{j.value("auth_time", j.at("iat").get<std::int64_t>())}};
    } catch (const nlohmann::json::exception&) {
      return fail(TokenError::InvalidToken, "the access token lacks required claims");
    }
    if (cfg_.cache_entries > 0) {
      std::lock_guard lock(shard.mu);
      // Bounded: when a shard is full, drop an arbitrary entry (it is only a cache).
      if (shard.map.size() >= std::max<std::size_t>(1, cfg_.cache_entries / kShards)) shard.map.erase(shard.map.begin());
      shard.map.insert_or_assign(std::string(token), CachedClaims{c, snap->generation});
    }
    claims = std::move(c);
  }
  if (revoked(*claims)) return fail(TokenError::TokenRevoked);
  return std::move(*claims);
}

void TokenService::deny_locally(const std::string* jti, const std::string* user, Seconds not_before) {
  std::unique_lock lock(rev_mu_);
  if (jti) rev_.jtis.insert(*jti);
  if (user) {
    auto& nb = rev_.not_before[*user];
    nb = std::max(nb, not_before);
  }
  recent_.push_back({jti ? *jti : "", user ? *user : "", not_before, clock_.now()});
}

Status TokenService::logout(const SecretString* refresh_token, const AccessClaims* access, const RequestMeta& meta) {
  const Seconds now = clock_.now();
  std::string family;
  std::string user = access ? access->sub : "";
  if (refresh_token) {
    auto row = store_.tokens().find_refresh(token_hash(refresh_token->expose()));
    if (row) {
      // A refresh token only logs out its own user's session.
      if (!access || row->user_id == access->sub) {
        family = row->family_id;
        user = row->user_id;
      }
    } else if (!is(row.error(), store::StoreError::NotFound)) {
      return fail(row.error());
    }
  }
  if (family.empty() && access) family = access->sid;
  if (!family.empty()) {
    auto ok = store_.tokens().revoke_family(family, "logout", now);
    if (!ok && !is(ok.error(), store::StoreError::NotFound)) return ok;
    if (auto denied = deny_families({family}); !denied) return denied;
  }
  if (access) {
    if (auto ok = deny_access(access->jti, access->exp); !ok) return ok;
  }
  audit("user.logout", "success", user.empty() ? "anonymous" : user, family, meta);
  return {};
}

Status TokenService::deny_families(const std::vector<std::string>& families) {
  // Access tokens carry their family as `sid`: denying "sid:<family>" kills
  // every access token of those sessions at once, without touching others.
  const Seconds until = clock_.now() + cfg_.access_ttl + cfg_.leeway;
  for (const auto& f : families) {
    const std::string key = "sid:" + f;
    if (auto ok = store_.tokens().deny_jti({key, until}); !ok) return ok;
    deny_locally(&key, nullptr, {});
  }
  return {};
}

Status TokenService::revoke_others(std::string_view user_id, std::string_view keep_family, std::string_view reason,
                                   const RequestMeta& meta) {
  const Seconds now = clock_.now();
  auto families = store_.tokens().revoke_user_families(user_id, keep_family, reason, now);
  if (!families) return fail(families.error());
  if (auto ok = deny_families(*families); !ok) return ok;
  if (!keep_family.empty()) {
    // The caller keeps its session but not its older access tokens (they may
    // be what leaked): everything issued before this second is revoked; the
    // fresh token the caller now gets has iat == now and survives.
    store::DeniedSubject d{std::string(user_id), now, now + cfg_.access_ttl + cfg_.leeway};
    if (auto ok = store_.tokens().deny_subject(d); !ok) return ok;
    deny_locally(nullptr, &d.user_id, now);
  }
  audit(keep_family.empty() ? "user.logout_all" : "token.revoke_others", std::string(reason), std::string(user_id),
        std::to_string(families->size()) + " sessions", meta);
  return {};
}

Status TokenService::deny_access(std::string_view jti, Seconds exp) {
  const std::string key(jti);
  if (auto ok = store_.tokens().deny_jti({key, exp + cfg_.leeway}); !ok) return ok;
  deny_locally(&key, nullptr, {});
  return {};
}

Status TokenService::revoke_user(std::string_view user_id, std::string_view reason, const RequestMeta& meta) {
  if (auto ok = revoke_others(user_id, "", reason, meta); !ok) return ok;
  // Tokens minted up to and including this second die (iat < now + 1).
  const Seconds not_before = clock_.now() + std::chrono::seconds{1};
  store::DeniedSubject d{std::string(user_id), not_before, not_before + cfg_.access_ttl + cfg_.leeway};
  if (auto ok = store_.tokens().deny_subject(d); !ok) return ok;
  deny_locally(nullptr, &d.user_id, not_before);
  return {};
}

Status TokenService::logout_all(std::string_view user_id, const RequestMeta& meta) {
  return revoke_others(user_id, "", "logout_all", meta);
}

Status TokenService::sync_revocations() {
  const Seconds now = clock_.now();
  auto jtis = store_.tokens().denied_jtis(now);
  if (!jtis) return fail(jtis.error());
  auto subjects = store_.tokens().denied_subjects(now);
  if (!subjects) return fail(subjects.error());
  Revocations fresh;
  for (auto& d : *jtis) fresh.jtis.insert(std::move(d.jti));
  for (auto& d : *subjects) fresh.not_before[d.user_id] = d.not_before;
  std::unique_lock lock(rev_mu_);
  // A denial made locally while the store was being read is not in `fresh`
  // yet: keep the recent local ones for a few poll periods.
  std::erase_if(recent_, [&](const LocalDenial& d) { return d.at < now - std::chrono::seconds{10}; });
  for (const auto& d : recent_) {
    if (!d.jti.empty()) fresh.jtis.insert(d.jti);
    if (!d.user.empty()) {
      auto& cur = fresh.not_before[d.user];
      cur = std::max(cur, d.not_before);
    }
  }
  rev_ = std::move(fresh);
  return {};
}

Result<std::int64_t> TokenService::purge() { return store_.tokens().purge(clock_.now(), std::chrono::hours{24}); }

std::size_t TokenService::cache_size_for_test() const {
  std::size_t n = 0;
  for (auto& s : cache_) {
    std::lock_guard lock(s.mu);
    n += s.map.size();
  }
  return n;
}

}  // namespace gh::service
