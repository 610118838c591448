// SigningKey: a private key (or HMAC secret) pinned to one Alg, with its kid.
//
// Created by generate(), loaded from PKCS#8 PEM or, for HS256, a raw secret.
// The algorithm is fixed at creation and sign() always uses it (RFC 8725 §3.1:
// one key, one algorithm). Move-only; it has no operator<<, formatter or
// string conversion, and private_pem() is the one way to read the secret out.
//
// Thread-safety: immutable after creation; sign() may run on many threads.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/base/result.h"
#include "core/base/secret.h"
#include "core/jwt/alg.h"
#include "core/jwt/error.h"
#include "core/jwt/handles.h"

namespace gh::jwt {

class SigningKey {
 public:
  // A fresh key: Ed25519 (EdDSA), P-256 (ES256), RSA of `rsa_bits` (RS256,
  // 2048..8192, default 3072) or 32 bytes from OpenSSL's CSPRNG (HS256).
  // `kid`: 1-128 characters from A-Z a-z 0-9 - _ . ~ (needs no escaping in
  // JSON, URLs, logs or SQL). Errors: KeyError (bad kid or rsa_bits, OpenSSL failure).
  [[nodiscard]] static Result<SigningKey> generate(Alg alg, std::string kid, int rsa_bits = 3072);

  // A key from an unencrypted PKCS#8 (or traditional) PEM private key, whose
  // type must fit `alg` as generate() would make it. For HS256, `pem` is the raw
  // secret as private_pem() returned it (see from_secret). Never prompts for a
  // passphrase. Errors: KeyError (unparsable, encrypted, wrong type, curve or size, bad kid).
  [[nodiscard]] static Result<SigningKey> from_private_pem(Alg alg, std::string kid,
                                                           const SecretString& pem);

  // An HS256 key. The secret must be >= 32 bytes (RFC 7518 §3.2) and must not
  // look like a PEM document (a PEM public key used as an HMAC secret is the
  // classic RS256 -> HS256 confusion). Errors: KeyError.
  [[nodiscard]] static Result<SigningKey> from_secret(std::string kid, SecretString secret);

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;
  ~SigningKey();

  // The private key as unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"),
  // for the caller to store encrypted; for HS256 the raw secret bytes.
  // Errors: KeyError (OpenSSL failure).
  [[nodiscard]] Result<SecretString> private_pem() const;

  // The public JWK (RFC 7517) with kty, crv/x/y or n/e, kid, alg and use "sig".
  // HS256 keys have no public form: the result is JSON null.
  [[nodiscard]] nlohmann::json public_jwk() const;

  // The raw JWS signature of `signing_input` (ASCII(header.payload)): 64 bytes
  // for EdDSA, r||s 64 bytes for ES256 (RFC 7518 §3.4), |n| bytes for RS256,
  // 32 bytes for HS256. Errors: KeyError (OpenSSL failure).
  [[nodiscard]] Result<std::string> sign(std::string_view signing_input) const;

  [[nodiscard]] Alg alg() const { return alg_; }
  [[nodiscard]] const std::string& kid() const { return kid_; }

 private:
  friend class VerifyKey;
  SigningKey(Alg alg, std::string kid) : alg_(alg), kid_(std::move(kid)) {}

  Alg alg_;
  std::string kid_;
  detail::PkeyPtr pkey_;  // asymmetric algorithms
  SecretString secret_;   // HS256 only
  detail::HmacPtr hmac_;  // HS256 only, keyed with secret_
};

}  // namespace gh::jwt
