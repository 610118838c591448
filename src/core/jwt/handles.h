// Owning handles for the OpenSSL state a key keeps between operations.
// Internal to gh_jwt; in a header only so SigningKey/VerifyKey can hold them
// without including all of OpenSSL.
#pragma once

#include <memory>

#include <openssl/types.h>

namespace gh::jwt::detail {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

class PkeyVerifier;  // defined in ossl.h
struct VerifierFree {
  void operator()(PkeyVerifier* p) const noexcept;
};
using VerifierPtr = std::unique_ptr<PkeyVerifier, VerifierFree>;

class HmacSha256;  // defined in ossl.h
struct HmacFree {
  void operator()(HmacSha256* p) const noexcept;
};
using HmacPtr = std::unique_ptr<HmacSha256, HmacFree>;

}  // namespace gh::jwt::detail
