#include "core/jwt/error.h"

namespace gh::jwt {

const char* describe(JwtError e) {
  switch (e) {
    case JwtError::Malformed:
      return "the token is not a three-part compact JWS";
    case JwtError::TooLarge:
      return "the token is too large";
    case JwtError::BadEncoding:
      return "a token segment is not canonical base64url";
    case JwtError::BadHeader:
      return "the token header is invalid";
    case JwtError::BadPayload:
      return "the token payload is not a JSON object";
    case JwtError::AlgMismatch:
      return "the token alg does not match the key";
    case JwtError::UnknownKid:
      return "no key matches the token kid";
    case JwtError::MissingKid:
      return "the token header has no kid";
    case JwtError::ForbiddenHeader:
      return "the token header carries a forbidden member";
    case JwtError::UnsupportedCrit:
      return "the token uses critical header extensions";
    case JwtError::WrongType:
      return "the token typ is not the expected type";
    case JwtError::BadSignature:
      return "the token signature is invalid";
    case JwtError::Expired:
      return "the token has expired";
    case JwtError::NotYetValid:
      return "the token is not valid yet";
    case JwtError::IssuedInFuture:
      return "the token was issued in the future";
    case JwtError::WrongIssuer:
      return "the token issuer is not accepted";
    case JwtError::WrongAudience:
      return "the token audience is not accepted";
    case JwtError::MissingClaim:
      return "a required claim is missing";
    case JwtError::BadClaimType:
      return "a claim has the wrong type";
    case JwtError::KeyError:
      return "the key is unusable";
    case JwtError::DuplicateKid:
      return "a key with this kid is already in the set";
  }
  return "unknown JWT error";
}
GH_DEFINE_ERROR_CATEGORY(JwtError, "jwt")

}  // namespace gh::jwt
