// PKCE (RFC 7636) for the authorization code flow: always S256, never plain
// (RFC 9700 §2.1.1). The caller supplies the random bytes (core does no I/O),
// so tests can use the RFC's vector.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/oauth/error.h"

namespace gh::oauth {

// Random bytes make_code_verifier accepts: 32 (256 bits, 43 characters,
// RFC 7636 §7.1's recommendation) to 96 (128 characters, the §4.1 maximum).
inline constexpr std::size_t kMinVerifierBytes = 32;
inline constexpr std::size_t kMaxVerifierBytes = 96;

// The base64url (unpadded) encoding of `random`, which is therefore 43-128
// characters of the unreserved alphabet (§4.1). Errors: WeakEntropy if
// `random` is shorter than kMinVerifierBytes or longer than kMaxVerifierBytes.
[[nodiscard]] Result<std::string> make_code_verifier(std::span<const std::byte> random);

// BASE64URL(SHA256(ASCII(verifier))) (§4.2). Errors: BadVerifier unless
// `verifier` is 43-128 characters of [A-Za-z0-9-._~].
[[nodiscard]] Result<std::string> code_challenge_s256(std::string_view verifier);

}  // namespace gh::oauth
