// One test per JwtError value, named after it (jwt_verify_lib jwks_test.cc
// style), plus the error category itself.
#include "core/jwt/jwt.h"

#include <gtest/gtest.h>

#include "jwt_test_util.h"

namespace gh::jwt::testing {
namespace {

TEST(JwtErrorCategory, NameAndMessages) {
  const std::error_code ec = JwtError::BadSignature;
  EXPECT_STREQ(ec.category().name(), "jwt");
  EXPECT_EQ(ec.message(), "the token signature is invalid");
  for (int v = static_cast<int>(JwtError::Malformed); v <= static_cast<int>(JwtError::DuplicateKid);
       ++v) {
    EXPECT_NE(std::string(describe(static_cast<JwtError>(v))), "unknown JWT error") << v;
  }
}

TEST(JwtError, Malformed) {
  const std::string good = token_for(Alg::ES256);
  const std::string h = good.substr(0, good.find('.'));
  EXPECT_TRUE(fails_with(check(""), JwtError::Malformed));
  EXPECT_TRUE(fails_with(check(h), JwtError::Malformed));
  EXPECT_TRUE(fails_with(check(h + ".e30"), JwtError::Malformed));
  EXPECT_TRUE(fails_with(check(good + ".AAAA"), JwtError::Malformed));  // four segments
  EXPECT_TRUE(
      fails_with(check(good + ".AAAA.AAAA"), JwtError::Malformed));  // five: JWE compact form
  EXPECT_TRUE(fails_with(check(".e30.AAAA"), JwtError::Malformed));
  EXPECT_TRUE(fails_with(check(h + "..AAAA"), JwtError::Malformed));
  EXPECT_TRUE(fails_with(check(good.substr(0, good.rfind('.') + 1)),
                         JwtError::Malformed));  // empty signature
}

TEST(JwtError, TooLarge) {
  Json c = claims();
  c["pad"] = std::string(9000, 'x');
  const std::string token = token_for(Alg::EdDSA, c);
  EXPECT_TRUE(fails_with(check(token), JwtError::TooLarge));
  VerifyOptions o = options();
  o.max_token_bytes = token.size();  // the limit is inclusive
  EXPECT_TRUE(succeeds(check(token, o)));
  o.max_token_bytes = token.size() - 1;
  EXPECT_TRUE(fails_with(check(token, o), JwtError::TooLarge));
}

TEST(JwtError, BadEncoding) {
  const std::string token = token_for(Alg::ES256);
  const auto d1 = token.find('.');
  // Padding, the standard alphabet and whitespace are all refused.
  EXPECT_TRUE(
      fails_with(check(token.substr(0, d1) + "=" + token.substr(d1)), JwtError::BadEncoding));
  EXPECT_TRUE(fails_with(check("+" + token.substr(1)), JwtError::BadEncoding));
  EXPECT_TRUE(
      fails_with(check(token.substr(0, d1) + " " + token.substr(d1)), JwtError::BadEncoding));
  EXPECT_TRUE(fails_with(check(token + "="), JwtError::BadEncoding));  // padded signature
  // The payload is decoded only after the signature verifies: sign a bad payload segment.
  const SigningKey& k = signing_key(Alg::ES256);
  const std::string input = b64(header_for(Alg::ES256)) + ".e30=";
  EXPECT_TRUE(fails_with(check(input + "." + b64(*k.sign(input))), JwtError::BadEncoding));
}

TEST(JwtError, BadEncodingNonCanonicalTrailingBits) {
  // 64-byte ES256 signature -> 86 characters, the last carrying 4 unused bits.
  // Setting them yields a different string for the same bytes: refused.
  const std::string token = token_for(Alg::ES256);
  std::string bad = token;
  char& last = bad.back();
  const std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  last = alphabet[alphabet.find(last) | 1];
  ASSERT_NE(bad, token);
  EXPECT_TRUE(fails_with(check(bad), JwtError::BadEncoding));
}

TEST(JwtError, BadHeader) {
  const Json c = claims();
  const SigningKey& k = signing_key(Alg::EdDSA);
  const std::string p = c.dump();
  EXPECT_TRUE(fails_with(check(forge(k, "[]", p)), JwtError::BadHeader));
  EXPECT_TRUE(fails_with(check(forge(k, "not json", p)), JwtError::BadHeader));
  EXPECT_TRUE(fails_with(check(forge(k, R"({"typ":"at+jwt","kid":"ed"})", p)),
                         JwtError::BadHeader));  // no alg
  EXPECT_TRUE(fails_with(check(forge(k, R"({"alg":null,"typ":"at+jwt","kid":"ed"})", p)),
                         JwtError::BadHeader));
  EXPECT_TRUE(fails_with(check(forge(k, R"({"alg":"EdDSA","typ":"at+jwt","kid":7})", p)),
                         JwtError::BadHeader));
  EXPECT_TRUE(fails_with(check(forge(k, R"({"alg":"EdDSA","typ":["at+jwt"],"kid":"ed"})", p)),
                         JwtError::BadHeader));
  // Duplicate alg: a first-wins parser and a last-wins parser would disagree.
  EXPECT_TRUE(
      fails_with(check(forge(k, R"({"alg":"EdDSA","alg":"none","typ":"at+jwt","kid":"ed"})", p)),
                 JwtError::BadHeader));
  // Invalid UTF-8 in a header string (RFC 8725 §3.7).
  EXPECT_TRUE(fails_with(
      check(
          forge(k, "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"ed\",\"x\":\"\xC0\xAF\"}", p)),
      JwtError::BadHeader));
}

TEST(JwtError, BadPayload) {
  EXPECT_TRUE(fails_with(check(forge(Alg::EdDSA, "[1,2]")), JwtError::BadPayload));
  EXPECT_TRUE(
      fails_with(check(forge(Alg::EdDSA, "{\"sub\":\"a\",\"sub\":\"b\"}")), JwtError::BadPayload));
  EXPECT_TRUE(fails_with(check(forge(Alg::EdDSA, "{\"sub\":\"\xFF\"}")), JwtError::BadPayload));
  EXPECT_TRUE(fails_with(check(forge(Alg::EdDSA, "{} trailing")), JwtError::BadPayload));
  EXPECT_TRUE(fails_with(sign_jwt(signing_key(Alg::EdDSA), Json::array()), JwtError::BadPayload));
  EXPECT_TRUE(
      fails_with(sign_jwt(signing_key(Alg::EdDSA), Json{{"sub", "\xFF"}}), JwtError::BadPayload));
}

TEST(JwtError, AlgMismatch) {
  const std::string p = claims().dump();
  // The ES256 key presented under another alg of another family and of its own.
  EXPECT_TRUE(fails_with(
      check(forge(signing_key(Alg::ES256), R"({"alg":"RS256","typ":"at+jwt","kid":"es"})", p)),
      JwtError::AlgMismatch));
  EXPECT_TRUE(fails_with(
      check(forge(signing_key(Alg::ES256), R"({"alg":"ES384","typ":"at+jwt","kid":"es"})", p)),
      JwtError::AlgMismatch));
  // Blocklist bypasses from rfc8725bis §2.11: only the exact allowlisted name passes.
  for (const char* alg : {"none", "None", "NONE", "nOnE", "es256", "ES256 ", ""}) {
    const std::string header = std::string(R"({"alg":")") + alg + R"(","typ":"at+jwt","kid":"es"})";
    EXPECT_TRUE(fails_with(check(forge(signing_key(Alg::ES256), header, p)), JwtError::AlgMismatch))
        << alg;
  }
}

TEST(JwtError, UnknownKid) {
  const std::string p = claims().dump();
  EXPECT_TRUE(fails_with(
      check(forge(signing_key(Alg::EdDSA), R"({"alg":"EdDSA","typ":"at+jwt","kid":"nope"})", p)),
      JwtError::UnknownKid));
  // kid is compared byte for byte: no case folding, no trimming, no SQL.
  for (const char* kid : {"ED", "ed ", " ed", "ed' OR '1'='1", ""}) {
    const std::string header =
        std::string(R"({"alg":"EdDSA","typ":"at+jwt","kid":")") + kid + R"("})";
    EXPECT_TRUE(fails_with(check(forge(signing_key(Alg::EdDSA), header, p)), JwtError::UnknownKid))
        << kid;
  }
}

TEST(JwtError, MissingKid) {
  // Even with a single key in the set, a token without kid is not matched to it.
  const KeySet one = key_set({Alg::EdDSA});
  const std::string t =
      forge(signing_key(Alg::EdDSA), R"({"alg":"EdDSA","typ":"at+jwt"})", claims().dump());
  EXPECT_TRUE(fails_with(verify_jwt(t, one, options(), kNow), JwtError::MissingKid));
}

TEST(JwtError, ForbiddenHeader) {
  const std::string p = claims().dump();
  for (const char* extra :
       {R"("jku":"https://evil.test/jwks.json")", R"("x5u":"https://evil.test/cert.pem")",
        R"("jwk":{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
        R"("x5c":["MIIB"])", R"("x5t":"AAAA")", R"("x5t#S256":"AAAA")", R"("cty":"JWT")"}) {
    const std::string header =
        std::string(R"({"alg":"EdDSA","typ":"at+jwt","kid":"ed",)") + extra + "}";
    EXPECT_TRUE(
        fails_with(check(forge(signing_key(Alg::EdDSA), header, p)), JwtError::ForbiddenHeader))
        << extra;
  }
}

TEST(JwtError, UnsupportedCrit) {
  const std::string header =
      R"({"alg":"EdDSA","typ":"at+jwt","kid":"ed","crit":["b64"],"b64":false})";
  EXPECT_TRUE(fails_with(check(forge(signing_key(Alg::EdDSA), header, claims().dump())),
                         JwtError::UnsupportedCrit));
  const std::string empty = R"({"alg":"EdDSA","typ":"at+jwt","kid":"ed","crit":[]})";
  EXPECT_TRUE(fails_with(check(forge(signing_key(Alg::EdDSA), empty, claims().dump())),
                         JwtError::UnsupportedCrit));
}

TEST(JwtError, WrongType) {
  const std::string p = claims().dump();
  const SigningKey& k = signing_key(Alg::EdDSA);
  EXPECT_TRUE(fails_with(check(forge(k, R"({"alg":"EdDSA","kid":"ed"})", p)), JwtError::WrongType));
  for (const char* typ : {"JWT", "jwt", "at+jwt ", "application/jwt", "text/at+jwt",
                          "application/at+jwt+x", "applicationXat+jwt", "secevent+jwt", ""}) {
    const std::string header = std::string(R"({"alg":"EdDSA","typ":")") + typ + R"(","kid":"ed"})";
    EXPECT_TRUE(fails_with(check(forge(k, header, p)), JwtError::WrongType)) << typ;
  }
  // RFC 9068 §4 accepts both spellings, case-insensitively (RFC 7515 §4.1.9).
  for (const char* typ : {"at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"}) {
    const std::string header = std::string(R"({"alg":"EdDSA","typ":")") + typ + R"(","kid":"ed"})";
    EXPECT_TRUE(succeeds(check(forge(k, header, p)))) << typ;
  }
  // An empty expected typ disables the check.
  VerifyOptions o = options();
  o.typ.clear();
  EXPECT_TRUE(succeeds(check(forge(k, R"({"alg":"EdDSA","kid":"ed"})", p), o)));
}

TEST(JwtError, BadSignature) {
  for (Alg alg : kAllAlgs) {
    const std::string token = token_for(alg);
    // The same header and signature over a different payload.
    Json other = claims();
    other["sub"] = "admin";
    const std::string swapped = token_for(alg, other);
    const std::string spliced =
        swapped.substr(0, swapped.rfind('.')) + token.substr(token.rfind('.'));
    EXPECT_TRUE(fails_with(check(spliced), JwtError::BadSignature)) << alg_name(alg);
    // One byte of signature, and one byte too many.
    EXPECT_TRUE(fails_with(check(with_signature(token, "x")), JwtError::BadSignature))
        << alg_name(alg);
    EXPECT_TRUE(fails_with(check(with_signature(token, signature_of(token) + "x")),
                           JwtError::BadSignature));
  }
}

TEST(JwtError, Expired) {
  Json c = claims();
  c["exp"] = kNowSeconds - 31;  // past the 30 s leeway
  EXPECT_TRUE(fails_with(check(token_for(Alg::EdDSA, c)), JwtError::Expired));
}

TEST(JwtError, NotYetValid) {
  Json c = claims();
  c["nbf"] = kNowSeconds + 31;
  EXPECT_TRUE(fails_with(check(token_for(Alg::EdDSA, c)), JwtError::NotYetValid));
}

TEST(JwtError, IssuedInFuture) {
  Json c = claims();
  c["iat"] = kNowSeconds + 31;
  EXPECT_TRUE(fails_with(check(token_for(Alg::EdDSA, c)), JwtError::IssuedInFuture));
}

TEST(JwtError, WrongIssuer) {
  Json c = claims();
  c["iss"] = "https://auth.example.test/";  // exact comparison: no URL normalisation
  EXPECT_TRUE(fails_with(check(token_for(Alg::EdDSA, c)), JwtError::WrongIssuer));
  VerifyOptions o = options();
  o.issuer.clear();  // unconfigured fails closed, even against an empty iss
  c["iss"] = "";
  EXPECT_TRUE(fails_with(check(token_for(Alg::EdDSA, c), o), JwtError::WrongIssuer));
}

TEST(JwtError, WrongAudience) {
  Json c = claims();
  c["aud"] = "https://other.example.test";
  EXPECT_TRUE(fails_with(check(token_for(Alg::EdDSA, c)), JwtError::WrongAudience));
  c["aud"] = Json::array({"https://a.test", "https://b.test"});
  EXPECT_TRUE(fails_with(check(token_for(Alg::EdDSA, c)), JwtError::WrongAudience));
  c["aud"] = Json::array();
  EXPECT_TRUE(fails_with(check(token_for(Alg::EdDSA, c)), JwtError::WrongAudience));
  VerifyOptions o = options();
  o.audience.clear();
  c["aud"] = "";
  EXPECT_TRUE(fails_with(check(token_for(Alg::EdDSA, c), o), JwtError::WrongAudience));
}

TEST(JwtError, MissingClaim) {
  for (const char* name : {"exp", "iat", "iss", "aud", "sub"}) {
    Json c = claims();
    c.erase(name);
    EXPECT_TRUE(fails_with(check(token_for(Alg::EdDSA, c)), JwtError::MissingClaim)) << name;
  }
  Json c = claims();
  c["sub"] = "";
  EXPECT_TRUE(fails_with(check(token_for(Alg::EdDSA, c)), JwtError::MissingClaim));
  c.erase("sub");
  VerifyOptions o = options();
  o.require_sub = false;
  EXPECT_TRUE(succeeds(check(token_for(Alg::EdDSA, c), o)));
}

TEST(JwtError, BadClaimType) {
  const std::vector<std::pair<const char*, Json>> cases = {
      {"exp", "1900000300"},
      {"exp", 1900000300.5},
      {"exp", nullptr},
      {"exp", 18446744073709551615ULL},
      {"nbf", true},
      {"iat", Json::array({1})},
      {"iss", 1},
      {"aud", 1},
      {"aud", Json::array({kAudience, 1})},
      {"aud", Json::object()},
      {"sub", 42},
  };
  for (const auto& [name, value] : cases) {
    Json c = claims();
    c[name] = value;
    EXPECT_TRUE(fails_with(check(token_for(Alg::EdDSA, c)), JwtError::BadClaimType))
        << name << "=" << value.dump();
  }
  // A present sub of the wrong type is refused even when sub is optional.
  Json c = claims();
  c["sub"] = Json::object();
  VerifyOptions o = options();
  o.require_sub = false;
  EXPECT_TRUE(fails_with(check(token_for(Alg::EdDSA, c), o), JwtError::BadClaimType));
}

TEST(JwtError, KeyError) {
  EXPECT_TRUE(fails_with(SigningKey::generate(Alg::RS256, "rs", 1024), JwtError::KeyError));
  EXPECT_TRUE(fails_with(SigningKey::generate(Alg::EdDSA, ""), JwtError::KeyError));
  EXPECT_TRUE(fails_with(SigningKey::from_secret("hs", SecretString(std::string(31, 'k'))),
                         JwtError::KeyError));
  EXPECT_TRUE(fails_with(VerifyKey::from_jwk(Json::object()), JwtError::KeyError));
}

TEST(JwtError, DuplicateKid) {
  KeySet set;
  ASSERT_TRUE(succeeds(set.add(VerifyKey::from_signing_key(signing_key(Alg::EdDSA)))));
  auto other = SigningKey::generate(Alg::ES256, "ed");
  ASSERT_TRUE(succeeds(other));
  EXPECT_TRUE(fails_with(set.add(VerifyKey::from_signing_key(*other)), JwtError::DuplicateKid));
  EXPECT_EQ(set.size(), 1U);
  EXPECT_EQ(set.find("ed")->alg(), Alg::EdDSA);  // the first key stays
}

}  // namespace
}  // namespace gh::jwt::testing
