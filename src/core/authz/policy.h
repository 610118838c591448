// Authorization policy (issue #6, first piece): roles and their permissions as
// data — resources × actions — and the one pure decision function everything
// else uses. Deny by default: an unknown role, resource or action never allows.
//
// Policy file (TOML):
//   resources = ["projects", "users", "billing", "reports"]
//   actions   = ["read", "write", "delete", "admin"]
//   [roles.manager]
//   grants = ["projects:read", "projects:write", "users:read"]   # "*" matches any resource or action
// Errors name the line and the reason; a server refuses to start on one.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "core/base/result.h"

namespace gh::authz {

enum class AuthzError : std::uint8_t {
  BadPolicy = 1,  // the policy text is not valid (detail: "line N: reason")
};
GH_DECLARE_ERROR_CATEGORY(AuthzError)

struct Policy {
  std::set<std::string, std::less<>> resources;
  std::set<std::string, std::less<>> actions;
  // role -> granted (resource, action) pairs, "*" already expanded.
  std::map<std::string, std::set<std::pair<std::string, std::string>>, std::less<>> roles;
};

// Parses a policy file's text. `source` names it in error details.
[[nodiscard]] Result<Policy> parse_policy(std::string_view toml_text, std::string_view source = "policy");

// The default policy (the user's reference): admin everything; manager
// read/write projects and reports, read users and billing; member read
// projects and reports.
[[nodiscard]] const Policy& default_policy();

// Who is asking, as far as one decision needs: whether they are signed in,
// whether they are a platform (global) admin, and their role in the tenant
// asked about ("" when they are not a member).
struct Subject {
  bool authenticated = false;
  bool platform_admin = false;
  std::string role_in_tenant;
};

enum class Reason : std::uint8_t {
  Granted,          // the role grants resource:action
  PlatformAdmin,    // a global admin may do anything the policy knows of
  NotAuthenticated, // 401
  NotMember,        // 403 (never says whether the resource exists)
  UnknownRole,      // 403: the member's role is not in the policy
  UnknownResource,  // 403
  UnknownAction,    // 403
  NotGranted,       // 403: the role does not grant it
};

struct Decision {
  bool allow = false;
  Reason reason = Reason::NotGranted;
};

// Decision order: authenticated? (401) → member of the tenant or platform
// admin? (403, before anything about the resource) → known resource and
// action? → platform admin, or the member's role known and granting? Deny by default.
[[nodiscard]] Decision decide(const Policy& policy, const Subject& subject, std::string_view resource,
                              std::string_view action);

[[nodiscard]] std::string_view reason_code(Reason r);

}  // namespace gh::authz

template <>
struct std::is_error_code_enum<gh::authz::AuthzError> : std::true_type {};
