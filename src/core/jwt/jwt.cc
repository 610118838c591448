#include "core/jwt/jwt.h"

#include <array>
#include <cstdint>
#include <limits>
#include <optional>

#include "core/base/encoding.h"
#include "core/json/json.h"

namespace gh::jwt {
namespace {

using Json = nlohmann::json;

// Hand-written JWS compact framing (RFC 7515 §7.1): it is three splits and a
// concatenation, and owning it lets us check each step in the order RFC 8725
// wants, which general-purpose JOSE libraries do not expose.
struct Segments {
  std::string_view header;
  std::string_view payload;
  std::string_view signature;
  std::string_view signing_input;  // header '.' payload, exactly as received
};

// Header members that name keys or content outside the token. RFC 8725 §3.10:
// never fetch jku/x5u or trust an embedded jwk/x5c; x5t only makes sense with
// certificates we do not use; cty announces a nested JWT (RFC 7519 §5.2), which
// we do not process, so its inner claims must not be read as ours.
constexpr std::array<std::string_view, 7> kForbiddenHeaders = {"jku", "x5u",      "jwk", "x5c",
                                                               "x5t", "x5t#S256", "cty"};

constexpr std::string_view kApplicationPrefix = "application/";

Result<Segments> split(std::string_view token) {
  const auto d1 = token.find('.');
  if (d1 == std::string_view::npos) return fail(JwtError::Malformed, "a JWT has three segments");
  const auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return fail(JwtError::Malformed, "a JWT has three segments");  // JWE has five
  }
  Segments s{token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1), token.substr(d2 + 1),
             token.substr(0, d2)};
  if (s.header.empty() || s.payload.empty() || s.signature.empty()) {
    return fail(JwtError::Malformed, "a JWT segment is empty");
  }
  return s;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// RFC 7515 §4.1.9: media types compare case-insensitively, and "application/"
// may be omitted; RFC 9068 §4 names both "at+jwt" and "application/at+jwt".
bool typ_matches(std::string_view typ, std::string_view expected) {
  if (iequals(typ, expected)) return true;
  return typ.size() == kApplicationPrefix.size() + expected.size() &&
         iequals(typ.substr(0, kApplicationPrefix.size()), kApplicationPrefix) &&
         iequals(typ.substr(kApplicationPrefix.size()), expected);
}

const Json* member(const Json& obj, std::string_view name) {
  const auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

// Decodes and strictly parses the header, then checks member types and the
// members we refuse. Everything here reads unauthenticated input.
Result<Json> parse_header(std::string_view b64) {
  const auto text = base64url_decode(b64);
  if (!text) return fail(JwtError::BadEncoding, "the header is not canonical base64url");
  auto header = gh::json::parse_object(*text);
  if (!header) {
    return fail(JwtError::BadHeader,
                "the header is not a JSON object: " + header.error().message());
  }
  const Json* alg = member(*header, "alg");
  if (alg == nullptr || !alg->is_string()) {
    return fail(JwtError::BadHeader, "the header alg must be a string");
  }
  for (const char* name : {"kid", "typ"}) {
    if (const Json* m = member(*header, name); m != nullptr && !m->is_string()) {
      return fail(JwtError::BadHeader, std::string("the header ") + name + " must be a string");
    }
  }
  for (std::string_view name : kForbiddenHeaders) {
    if (header->contains(name)) {
      return fail(JwtError::ForbiddenHeader, "the header must not carry " + std::string(name));
    }
  }
  if (header->contains("crit")) {
    return fail(JwtError::UnsupportedCrit, "no critical header extensions are supported");
  }
  return std::move(*header);
}

// The header alg must be exactly the key's: the key, never the token, picks
// the algorithm (RFC 8725 §3.1). Then the signature, over the bytes as received.
Status check_signature(const Segments& s, const Json& header, const VerifyKey& key) {
  const auto& alg = member(header, "alg")->get_ref<const std::string&>();  // parse_header checked
  if (alg != alg_name(key.alg())) {
    return fail(JwtError::AlgMismatch, "the token alg does not match the key");
  }
  const auto sig = base64url_decode(s.signature);
  if (!sig) return fail(JwtError::BadEncoding, "the signature is not canonical base64url");
  if (!key.verify(s.signing_input, *sig)) return fail(JwtError::BadSignature);
  return {};
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  using Limits = std::numeric_limits<std::int64_t>;
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? Limits::max() : Limits::min();
  return r;
}

// A NumericDate claim as int64: absent -> nullopt. RFC 7519 allows fractions;
// we accept integers only (RFC 9068 tokens carry whole seconds), so a float,
// string, null or out-of-range integer is BadClaimType.
Result<std::optional<std::int64_t>> int_claim(const Json& claims, const char* name) {
  const Json* v = member(claims, name);
  if (v == nullptr) return std::optional<std::int64_t>{};
  if (v->is_number_unsigned()) {
    const auto u = v->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return fail(JwtError::BadClaimType, std::string("'") + name + "' is out of range");
    }
    return std::optional<std::int64_t>{static_cast<std::int64_t>(u)};
  }
  if (v->is_number_integer()) return std::optional<std::int64_t>{v->get<std::int64_t>()};
  return fail(JwtError::BadClaimType, std::string("'") + name + "' must be an integer");
}

Result<std::int64_t> required_int_claim(const Json& claims, const char* name) {
  auto v = int_claim(claims, name);
  if (!v) return fail(v.error());
  if (!*v) return fail(JwtError::MissingClaim, std::string("'") + name + "' is required");
  return **v;
}

Status check_times(const Json& claims, const VerifyOptions& options, Seconds now) {
  const std::int64_t t = now.time_since_epoch().count();
  const std::int64_t leeway = std::max<std::int64_t>(0, options.leeway.count());
  const std::int64_t latest = saturating_add(t, leeway);
  const auto exp = required_int_claim(claims, "exp");
  if (!exp) return fail(exp.error());
  if (saturating_add(*exp, leeway) < t) return fail(JwtError::Expired);
  const auto nbf = int_claim(claims, "nbf");
  if (!nbf) return fail(nbf.error());
  if (*nbf && **nbf > latest) return fail(JwtError::NotYetValid);
  const auto iat = required_int_claim(claims, "iat");
  if (!iat) return fail(iat.error());
  if (*iat > latest) return fail(JwtError::IssuedInFuture);
  return {};
}

// A string claim; nullptr if absent, BadClaimType if present and not a string.
Result<const std::string*> string_claim(const Json& claims, const char* name) {
  const Json* v = member(claims, name);
  if (v == nullptr) return static_cast<const std::string*>(nullptr);
  if (!v->is_string())
    return fail(JwtError::BadClaimType, std::string("'") + name + "' must be a string");
  return &v->get_ref<const std::string&>();
}

Status check_identity(const Json& claims, const VerifyOptions& options) {
  const auto iss = string_claim(claims, "iss");
  if (!iss) return fail(iss.error());
  if (*iss == nullptr) return fail(JwtError::MissingClaim, "'iss' is required");
  if (options.issuer.empty() || **iss != options.issuer) return fail(JwtError::WrongIssuer);

  const Json* aud = member(claims, "aud");
  if (aud == nullptr) return fail(JwtError::MissingClaim, "'aud' is required");
  bool found = false;
  if (aud->is_string()) {
    found = aud->get_ref<const std::string&>() == options.audience;
  } else if (aud->is_array()) {
    for (const Json& a : *aud) {
      if (!a.is_string())
        return fail(JwtError::BadClaimType, "'aud' must be a string or an array of strings");
      found = found || a.get_ref<const std::string&>() == options.audience;
    }
  } else {
    return fail(JwtError::BadClaimType, "'aud' must be a string or an array of strings");
  }
  if (options.audience.empty() || !found) return fail(JwtError::WrongAudience);

  const auto sub = string_claim(claims, "sub");
  if (!sub) return fail(sub.error());
  if (options.require_sub && (*sub == nullptr || (*sub)->empty())) {
    return fail(JwtError::MissingClaim, "'sub' is required");
  }
  return {};
}

}  // namespace

Result<std::string> sign_jwt(const SigningKey& key, const Json& claims, std::string_view typ) {
  if (!claims.is_object()) return fail(JwtError::BadPayload, "claims must be a JSON object");
  std::string header = R"({"alg":")" + std::string(alg_name(key.alg())) + '"';
  std::string payload;
  try {
    if (!typ.empty()) header += R"(,"typ":)" + Json(typ).dump();
    header += R"(,"kid":)" + Json(key.kid()).dump() + '}';
    payload = claims.dump();  // throws json::type_error on invalid UTF-8
  } catch (const Json::exception&) {
    return fail(JwtError::BadPayload, "claims must be valid UTF-8");
  }
  std::string token = base64url_encode(header);
  token += '.';
  token += base64url_encode(payload);
  auto sig = key.sign(token);
  if (!sig) return fail(sig.error());
  token += '.';
  token += base64url_encode(*sig);
  return token;
}

Result<VerifiedJwt> verify_jwt(std::string_view token, const KeySet& keys,
                               const VerifyOptions& options, Seconds now) {
  if (token.size() > options.max_token_bytes) return fail(JwtError::TooLarge);
  const auto segments = split(token);
  if (!segments) return fail(segments.error());
  auto header = parse_header(segments->header);
  if (!header) return fail(header.error());

  if (!options.typ.empty()) {
    const Json* typ = member(*header, "typ");
    if (typ == nullptr || !typ_matches(typ->get_ref<const std::string&>(), options.typ)) {
      return fail(JwtError::WrongType);
    }
  }
  const Json* kid = member(*header, "kid");
  if (kid == nullptr) return fail(JwtError::MissingKid);
  const VerifyKey* key = keys.find(kid->get_ref<const std::string&>());
  if (key == nullptr) return fail(JwtError::UnknownKid);
  if (auto ok = check_signature(*segments, *header, *key); !ok) return fail(ok.error());

  // Only now, with the signature verified, is the payload parsed.
  const auto text = base64url_decode(segments->payload);
  if (!text) return fail(JwtError::BadEncoding, "the payload is not canonical base64url");
  auto claims = gh::json::parse_object(*text);
  if (!claims)
    return fail(JwtError::BadPayload,
                "the payload is not a JSON object: " + claims.error().message());
  if (auto ok = check_times(*claims, options, now); !ok) return fail(ok.error());
  if (auto ok = check_identity(*claims, options); !ok) return fail(ok.error());
  return VerifiedJwt{std::move(*header), std::move(*claims), key->kid()};
}

Status verify_signature_for_test(std::string_view token, const VerifyKey& key) {
  const auto segments = split(token);
  if (!segments) return fail(segments.error());
  const auto header = parse_header(segments->header);
  if (!header) return fail(header.error());
  return check_signature(*segments, *header, key);
}

}  // namespace gh::jwt
