// GitHub is OAuth 2.0 without OpenID Connect: no ID token, so who signed in
// comes from its REST API with the access token: GET /user and
// GET /user/emails (https://docs.github.com/en/rest/users). These parse the
// JSON bodies; fetching them is the service layer's job.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/oauth/error.h"

namespace gh::oauth {

struct GithubUser {
  // The numeric account id as a decimal string: the stable subject of the
  // identity (never the login, which a user can rename and another can take;
  // SECURITY-CHECKLIST.md C13).
  std::string subject;
  std::string login;
  std::optional<std::string> name;
};

// Parses a /user body. Errors: BadUserInfo unless it is a strict JSON object
// whose "id" is a positive integer and "login" a non-empty string (at most
// 255 bytes), and "name", if present and not null, a string.
[[nodiscard]] Result<GithubUser> parse_github_user(std::string_view body);

// The account's primary email if GitHub says it is verified, else nullopt (an
// unverified primary is never replaced by another address: the primary is
// the one the person chose). /user/emails is a JSON array of
// {"email": string, "primary": bool, "verified": bool, "visibility": ...}.
// Errors: BadUserInfo if the body is not such an array (a member of the wrong
// type, an entry without email) or has more than one primary entry.
[[nodiscard]] Result<std::optional<std::string>> github_primary_verified_email(
    std::string_view body);

}  // namespace gh::oauth
