#include "core/oauth/id_token.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "core/base/secret.h"
#include "core/json/json.h"
#include "core/jwt/alg.h"
#include "core/jwt/jwt.h"
#include "core/jwt/verify_key.h"

namespace gh::oauth {
namespace {

using Json = nlohmann::json;

// ID tokens larger than this are refused before parsing (ours are ~1 KiB;
// Azure's with group claims reach a few KiB).
constexpr std::size_t kMaxIdTokenBytes = 16384;
constexpr std::size_t kMaxSubjectBytes = 255;  // OIDC Core §2: at most 255 ASCII characters
constexpr std::size_t kMaxProfileBytes = 1024;

const Json* member(const Json& obj, const char* name) {
  const auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

Result<const std::string*> string_claim(const Json& claims, const char* name, bool required) {
  const Json* v = member(claims, name);
  if (v == nullptr) {
    if (required) return fail(OAuthError::MissingClaim, std::string("'") + name + "' is required");
    return static_cast<const std::string*>(nullptr);
  }
  if (!v->is_string()) {
    return fail(OAuthError::BadClaimType, std::string("'") + name + "' must be a string");
  }
  return &v->get_ref<const std::string&>();
}

// A NumericDate as whole seconds in int64 (fractions are refused, as in gh_jwt).
Result<std::int64_t> time_claim(const Json& claims, const char* name) {
  const Json* v = member(claims, name);
  if (v == nullptr)
    return fail(OAuthError::MissingClaim, std::string("'") + name + "' is required");
  if (v->is_number_unsigned()) {
    const auto u = v->get<std::uint64_t>();
    if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(u);
    }
  } else if (v->is_number_integer()) {
    return v->get<std::int64_t>();
  }
  return fail(OAuthError::BadClaimType, std::string("'") + name + "' must be an integer");
}

std::int64_t sat_add(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max()
                 : std::numeric_limits<std::int64_t>::min();
  }
  return r;
}

Status check_audience(const Json& claims, const IdTokenExpectations& expect) {
  const Json* aud = member(claims, "aud");
  if (aud == nullptr) return fail(OAuthError::MissingClaim, "'aud' is required");
  std::vector<std::string_view> values;
  if (aud->is_string()) {
    values.push_back(aud->get_ref<const std::string&>());
  } else if (aud->is_array()) {
    for (const Json& a : *aud) {
      if (!a.is_string()) {
        return fail(OAuthError::BadClaimType, "'aud' must be a string or an array of strings");
      }
      values.push_back(a.get_ref<const std::string&>());
    }
  } else {
    return fail(OAuthError::BadClaimType, "'aud' must be a string or an array of strings");
  }
  if (expect.client_id.empty() ||
      std::find(values.begin(), values.end(), expect.client_id) == values.end()) {
    return fail(OAuthError::WrongAudience);
  }
  for (const auto v : values) {
    if (v != expect.client_id &&
        std::find(expect.trusted_audiences.begin(), expect.trusted_audiences.end(), v) ==
            expect.trusted_audiences.end()) {
      return fail(OAuthError::UntrustedAudience);
    }
  }
  const auto azp = string_claim(claims, "azp", false);
  if (!azp) return fail(azp.error());
  if (*azp == nullptr) {
    if (values.size() > 1) return fail(OAuthError::MissingAzp);
  } else if (**azp != expect.client_id) {
    return fail(OAuthError::WrongAzp);
  }
  return {};
}

bool good_subject(std::string_view sub) {
  if (sub.empty() || sub.size() > kMaxSubjectBytes) return false;
  return std::all_of(sub.begin(), sub.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

Result<ProviderKeys> parse_provider_jwks(std::string_view body) {
  auto doc = json::parse_object(body);
  if (!doc) return fail(OAuthError::BadJwks, doc.error().message());
  const Json* keys = member(*doc, "keys");
  if (keys == nullptr || !keys->is_array()) return fail(OAuthError::BadJwks, "no \"keys\" array");
  ProviderKeys out;
  for (const Json& jwk : *keys) {
    if (!jwk.is_object()) return fail(OAuthError::BadJwks, "a key is not a JSON object");
    const Json* use = member(jwk, "use");
    const Json* alg = member(jwk, "alg");
    const Json* kty = member(jwk, "kty");
    const Json* kid = member(jwk, "kid");
    bool usable = (use == nullptr || *use == "sig") && kty != nullptr && *kty != "oct" &&
                  kid != nullptr && kid->is_string();
    if (usable && alg != nullptr) {
      const auto a =
          alg->is_string() ? jwt::parse_alg(alg->get_ref<const std::string&>()) : std::nullopt;
      usable = a.has_value() && *a != jwt::Alg::HS256;
    }
    if (!usable) {
      ++out.skipped;
      continue;
    }
    auto key = jwt::VerifyKey::from_jwk(jwk);  // pins the alg; refuses private members
    if (!key || key->alg() == jwt::Alg::HS256) {
      ++out.skipped;
      continue;
    }
    if (!out.keys.add(std::move(*key))) return fail(OAuthError::BadJwks, "two keys share a kid");
  }
  if (out.keys.size() == 0) return fail(OAuthError::NoUsableKeys);
  return out;
}

Result<IdTokenIdentity> validate_id_token_claims(const Json& claims,
                                                 const IdTokenExpectations& expect, Seconds now) {
  if (!claims.is_object()) return fail(OAuthError::BadClaimType, "the claims are not an object");
  const auto iss = string_claim(claims, "iss", true);
  if (!iss) return fail(iss.error());
  if (expect.issuer.empty() || **iss != expect.issuer) return fail(OAuthError::WrongIssuer);
  if (auto ok = check_audience(claims, expect); !ok) return fail(ok.error());

  const std::int64_t t = now.time_since_epoch().count();
  const std::int64_t leeway = std::max<std::int64_t>(0, expect.leeway.count());
  const auto exp = time_claim(claims, "exp");
  if (!exp) return fail(exp.error());
  if (sat_add(*exp, leeway) < t) return fail(OAuthError::Expired);
  const auto iat = time_claim(claims, "iat");
  if (!iat) return fail(iat.error());
  if (*iat > sat_add(t, leeway)) return fail(OAuthError::IssuedInFuture);
  if (expect.max_age.count() > 0 && sat_add(sat_add(*iat, expect.max_age.count()), leeway) < t) {
    return fail(OAuthError::TooOld);
  }

  const auto nonce = string_claim(claims, "nonce", true);
  if (!nonce) return fail(nonce.error());
  // The nonce binds the token to this browser's flow; it is compared like a secret.
  if (expect.nonce.empty() || !constant_time_equal(**nonce, expect.nonce)) {
    return fail(OAuthError::NonceMismatch);
  }

  const auto sub = string_claim(claims, "sub", true);
  if (!sub) return fail(sub.error());
  if (!good_subject(**sub)) return fail(OAuthError::BadSubject);

  IdTokenIdentity id;
  id.issuer = **iss;
  id.subject = **sub;
  id.issued_at = Seconds{std::chrono::seconds{*iat}};
  id.expires_at = Seconds{std::chrono::seconds{*exp}};
  for (const auto& [name, out] : {std::pair{"email", &id.email}, std::pair{"name", &id.name}}) {
    const auto v = string_claim(claims, name, false);
    if (!v) return fail(v.error());
    if (*v != nullptr) {
      if ((*v)->size() > kMaxProfileBytes) {
        return fail(OAuthError::BadClaimType, std::string("'") + name + "' is too long");
      }
      *out = **v;
    }
  }
  if (member(claims, "auth_time") != nullptr) {
    const auto at = time_claim(claims, "auth_time");
    if (!at) return fail(at.error());
    id.auth_time = Seconds{std::chrono::seconds{*at}};
  }
  // Only the JSON literal true counts (see IdTokenIdentity::email_verified).
  const Json* verified = member(claims, "email_verified");
  id.email_verified = verified != nullptr && verified->is_boolean() && verified->get<bool>();
  return id;
}

Result<IdTokenIdentity> verify_id_token(std::string_view token, const jwt::KeySet& keys,
                                        const IdTokenExpectations& expect, Seconds now) {
  jwt::VerifyOptions options;
  options.issuer = expect.issuer;
  options.audience = expect.client_id;
  options.typ = "";  // ID tokens are untyped or "JWT"; checked below
  options.leeway = expect.leeway;
  options.max_token_bytes = kMaxIdTokenBytes;
  options.require_sub = true;
  auto verified = jwt::verify_jwt(token, keys, options, now);
  if (!verified) return fail(verified.error());
  const auto typ = verified->header.find("typ");
  if (typ != verified->header.end()) {
    // verify_jwt checked it is a string. Media types compare case-insensitively (RFC 7515 §4.1.9).
    std::string t = typ->get<std::string>();
    std::transform(t.begin(), t.end(), t.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
    if (t != "jwt" && t != "application/jwt") return fail(OAuthError::WrongJwtType);
  }
  return validate_id_token_claims(verified->claims, expect, now);
}

}  // namespace gh::oauth
