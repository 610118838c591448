// forward-auth per-route requirements (docs/authz.md): "path-prefix=resource:action"
// rules, and the path normalisation that keeps them from being sidestepped.
//
// A proxy forwards the raw request path; the application behind it may decode
// percent-escapes, resolve dot segments, merge slashes or ignore case. So the
// path is brought to that most-resolved form before matching, and prefixes
// match case-insensitively: every spelling an application could read as
// "/admin/x" meets the "/admin/" rule. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/authz/policy.h"
#include "core/base/result.h"

namespace gh::authz {

struct RouteRule {
  std::string prefix;  // a path starting with '/', as written (matched case-insensitively)
  std::string resource;
  std::string action;
};

// Parses comma-separated "prefix=resource:action" entries (the config value).
// The resource and action must be known to `policy`. Errors: BadPolicy with
// "rule N: reason".
[[nodiscard]] Result<std::vector<RouteRule>> parse_route_rules(std::string_view text,
                                                               const Policy& policy);

// The request path (a URL's path, or a path with a query) decoded and
// normalised: query and fragment dropped, percent-escapes decoded, backslashes
// as slashes, repeated slashes merged, dot segments resolved. nullopt for a
// path that cannot be read safely (not starting with '/', a bad escape, a
// control character or NUL): callers refuse such a request outright.
[[nodiscard]] std::optional<std::string> normalize_route_path(std::string_view raw);

// The rule with the longest prefix that `normalized_path` starts with
// (case-insensitive), or null if none.
[[nodiscard]] const RouteRule* match_route(const std::vector<RouteRule>& rules,
                                           std::string_view normalized_path);

}  // namespace gh::authz
