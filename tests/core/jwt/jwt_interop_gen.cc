// Interop peer for tests/interop/jwt/jose_interop.mjs (not a gtest).
//
//   jwt_interop_gen emit OUT.json    one fresh key and one token per algorithm,
//                                    plus the JWKS, HS256 secret and private PEMs
//   jwt_interop_gen verify IN.json   verifies tokens signed by jose and checks each
//                                    outcome against its "expect" ("ok" or an error name)
//
// Uses the real clock: the peer checks exp/iat against its own.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "core/base/clock.h"
#include "core/base/encoding.h"
#include "core/jwt/jwt.h"

namespace {

using gh::jwt::Alg;
using gh::jwt::JwtError;
using Json = nlohmann::json;

constexpr const char* kIssuer = "https://gatehouse.interop.test";
constexpr const char* kAudience = "https://api.interop.test";

const char* error_name(JwtError e) {
  switch (e) {
    case JwtError::Malformed:
      return "Malformed";
    case JwtError::TooLarge:
      return "TooLarge";
    case JwtError::BadEncoding:
      return "BadEncoding";
    case JwtError::BadHeader:
      return "BadHeader";
    case JwtError::BadPayload:
      return "BadPayload";
    case JwtError::AlgMismatch:
      return "AlgMismatch";
    case JwtError::UnknownKid:
      return "UnknownKid";
    case JwtError::MissingKid:
      return "MissingKid";
    case JwtError::ForbiddenHeader:
      return "ForbiddenHeader";
    case JwtError::UnsupportedCrit:
      return "UnsupportedCrit";
    case JwtError::WrongType:
      return "WrongType";
    case JwtError::BadSignature:
      return "BadSignature";
    case JwtError::Expired:
      return "Expired";
    case JwtError::NotYetValid:
      return "NotYetValid";
    case JwtError::IssuedInFuture:
      return "IssuedInFuture";
    case JwtError::WrongIssuer:
      return "WrongIssuer";
    case JwtError::WrongAudience:
      return "WrongAudience";
    case JwtError::MissingClaim:
      return "MissingClaim";
    case JwtError::BadClaimType:
      return "BadClaimType";
    case JwtError::KeyError:
      return "KeyError";
    case JwtError::DuplicateKid:
      return "DuplicateKid";
  }
  return "?";
}

int die(const std::string& msg) {
  std::cerr << "jwt_interop_gen: " << msg << "\n";
  return 2;
}

int emit(const char* path) {
  const std::int64_t now = gh::SystemClock().now().time_since_epoch().count();
  Json out = {{"issuer", kIssuer}, {"audience", kAudience}, {"tokens", Json::array()}};
  gh::jwt::KeySet set;
  for (Alg alg : {Alg::EdDSA, Alg::ES256, Alg::RS256, Alg::HS256}) {
    const std::string kid = "gh-" + std::string(gh::jwt::alg_name(alg));
    auto key = gh::jwt::SigningKey::generate(alg, kid);
    if (!key) return die(key.error().message());
    const Json claims = {
        {"iss", kIssuer},   {"sub", "user-" + kid}, {"aud", kAudience},      {"iat", now},
        {"exp", now + 300}, {"jti", kid + "-jti"},  {"client_id", "interop"}};
    auto token = gh::jwt::sign_jwt(*key, claims);
    if (!token) return die(token.error().message());
    auto pem = key->private_pem();
    if (!pem) return die(pem.error().message());
    Json entry = {{"alg", gh::jwt::alg_name(alg)}, {"kid", kid},        {"token", *token},
                  {"sub", "user-" + kid},          {"issuer", kIssuer}, {"audience", kAudience}};
    // Throwaway keys made for this run only: the peer imports the HMAC secret and
    // the PKCS#8 PEMs to prove they are standard.
    if (alg == Alg::HS256) {
      entry["secret"] = gh::base64url_encode(pem->expose());
    } else {
      entry["private_pem"] = std::string(pem->expose());
    }
    out["tokens"].push_back(std::move(entry));
    if (!set.add(gh::jwt::VerifyKey::from_signing_key(*key))) return die("duplicate kid");
  }
  out["jwks"] = set.jwks();
  std::ofstream f(path);
  f << out.dump(2) << "\n";
  return f ? 0 : die(std::string("cannot write ") + path);
}

int verify(const char* path) {
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  const Json in = Json::parse(text.str());
  gh::jwt::KeySet keys;
  for (const Json& jwk : in.at("jwks").at("keys")) {
    auto k = gh::jwt::VerifyKey::from_jwk(jwk);
    if (!k) return die("JWK " + jwk.value("kid", "?") + ": " + k.error().message());
    if (!keys.add(std::move(*k))) return die("duplicate kid");
  }
  if (in.contains("hs256")) {
    const Json& hs = in["hs256"];
    auto secret = gh::base64url_decode(hs.at("secret").get<std::string>());
    if (!secret) return die("bad HS256 secret encoding");
    auto sk = gh::jwt::SigningKey::from_secret(hs.at("kid").get<std::string>(),
                                               gh::SecretString(std::move(*secret)));
    if (!sk) return die(sk.error().message());
    if (!keys.add(gh::jwt::VerifyKey::from_signing_key(*sk))) return die("duplicate kid");
  }
  gh::jwt::VerifyOptions options;
  options.issuer = in.at("issuer").get<std::string>();
  options.audience = in.at("audience").get<std::string>();
  const gh::Seconds now = gh::SystemClock().now();
  int failures = 0;
  for (const Json& t : in.at("tokens")) {
    const auto r = gh::jwt::verify_jwt(t.at("token").get<std::string>(), keys, options, now);
    const std::string got = r ? "ok" : error_name(static_cast<JwtError>(r.error().code.value()));
    const std::string want = t.at("expect").get<std::string>();
    const bool pass = got == want && (!r || r->claims.value("sub", "") == t.value("sub", ""));
    std::cout << (pass ? "ok   " : "FAIL ") << t.at("name").get<std::string>() << ": " << got
              << (pass ? "" : " (expected " + want + ")") << "\n";
    failures += pass ? 0 : 1;
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return die("usage: jwt_interop_gen emit OUT.json | verify IN.json");
  const std::string mode = argv[1];
  try {
    if (mode == "emit") return emit(argv[2]);
    if (mode == "verify") return verify(argv[2]);
  } catch (const std::exception& e) {
    return die(e.what());
  }
  return die("unknown mode " + mode);
}
