#include "core/oauth/error.h"

namespace gh::oauth {

const char* describe(OAuthError e) {
  switch (e) {
    case OAuthError::WeakEntropy:
      return "a code_verifier needs 32 to 96 random bytes";
    case OAuthError::BadVerifier:
      return "the code_verifier is not 43-128 unreserved characters";
    case OAuthError::BadUrl:
      return "the URL is not an absolute http(s) URL without userinfo or fragment";
    case OAuthError::InsecureUrl:
      return "the URL must use https (http only for loopback hosts)";
    case OAuthError::MissingParameter:
      return "a required authorization request parameter is empty";
    case OAuthError::BadCallback:
      return "the callback query is malformed";
    case OAuthError::DuplicateParameter:
      return "a callback parameter appears more than once";
    case OAuthError::MissingState:
      return "the callback has no state";
    case OAuthError::StateMismatch:
      return "the callback state does not match this sign-in";
    case OAuthError::MissingIssuer:
      return "the callback has no iss parameter although the provider sends one";
    case OAuthError::IssuerMismatch:
      return "the callback comes from another issuer";
    case OAuthError::ProviderError:
      return "the provider refused the authorization";
    case OAuthError::MissingCode:
      return "the callback has no code";
    case OAuthError::BadDiscovery:
      return "the discovery document is malformed";
    case OAuthError::DiscoveryIssuerMismatch:
      return "the discovery document names another issuer";
    case OAuthError::MissingEndpoint:
      return "the discovery document lacks a required endpoint";
    case OAuthError::PkceNotSupported:
      return "the provider does not support PKCE with S256";
    case OAuthError::CodeFlowNotSupported:
      return "the provider does not support the authorization code flow";
    case OAuthError::BadJwks:
      return "the provider's JWK set is malformed";
    case OAuthError::NoUsableKeys:
      return "the provider's JWK set has no supported signing key";
    case OAuthError::MissingClaim:
      return "the ID token lacks a required claim";
    case OAuthError::BadClaimType:
      return "an ID token claim has the wrong type";
    case OAuthError::WrongJwtType:
      return "the token is not an ID token";
    case OAuthError::WrongIssuer:
      return "the ID token comes from another issuer";
    case OAuthError::WrongAudience:
      return "the ID token is not for this client";
    case OAuthError::UntrustedAudience:
      return "the ID token names an untrusted audience";
    case OAuthError::MissingAzp:
      return "the ID token has several audiences and no azp";
    case OAuthError::WrongAzp:
      return "the ID token was issued to another party";
    case OAuthError::Expired:
      return "the ID token has expired";
    case OAuthError::IssuedInFuture:
      return "the ID token is issued in the future";
    case OAuthError::TooOld:
      return "the ID token was issued too long ago";
    case OAuthError::NonceMismatch:
      return "the ID token nonce does not match this sign-in";
    case OAuthError::BadSubject:
      return "the ID token subject is empty, too long or not ASCII";
    case OAuthError::BadTokenResponse:
      return "the token endpoint response is malformed";
    case OAuthError::TokenEndpointError:
      return "the token endpoint refused the code";
    case OAuthError::WrongTokenType:
      return "the token endpoint issued a token type other than Bearer";
    case OAuthError::MissingIdToken:
      return "the token endpoint response has no id_token";
    case OAuthError::BadUserInfo:
      return "the provider's user information is malformed";
  }
  return "unknown oauth error";
}

GH_DEFINE_ERROR_CATEGORY(OAuthError, "oauth")

}  // namespace gh::oauth
