#include "core/oauth/pkce.h"

#include "core/base/encoding.h"

namespace gh::oauth {
namespace {

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

Result<std::string> make_code_verifier(std::span<const std::byte> random) {
  if (random.size() < kMinVerifierBytes || random.size() > kMaxVerifierBytes) {
    return fail(OAuthError::WeakEntropy);
  }
  return base64url_encode(
      std::string_view(reinterpret_cast<const char*>(random.data()), random.size()));
}

Result<std::string> code_challenge_s256(std::string_view verifier) {
  if (verifier.size() < 43 || verifier.size() > 128) return fail(OAuthError::BadVerifier);
  for (const char c : verifier) {
    if (!unreserved(c)) return fail(OAuthError::BadVerifier);
  }
  return base64url_encode(sha256(verifier));
}

}  // namespace gh::oauth
