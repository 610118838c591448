// forward-auth per-route requirements (docs/authz.md): "path-prefix=resource:action"
// rules, and the path normalisation that keeps them from being sidestepped.
//
// A proxy forwards the raw request path; the application behind it may decode
// percent-escapes, merge slashes or ignore case — or resolve dot segments and
// ';' parameters in ways of its own. So: what only adds spellings of a path
// (unreserved escapes, '\\', '//', letter case) is normalised and prefixes
// match case-insensitively; what servers read differently (dot segments,
// encoded separators or dots, ';') is refused outright (fail closed). Pure functions.
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

// The request path (a path, optionally with a query) decoded and normalised:
// query and fragment dropped, escapes decoded, backslashes as slashes,
// repeated slashes merged. nullopt for a path that cannot be read safely — not
// starting with '/', a bad escape, a control character, ';', a "." or ".."
// segment, a segment ending in '.' or ' ', an escape decoding to '/', '\\',
// '.', '%' or ';': callers refuse such a request outright.
[[nodiscard]] std::optional<std::string> normalize_route_path(std::string_view raw);

// The rule with the longest prefix that `normalized_path` starts with
// (case-insensitive), or null if none.
[[nodiscard]] const RouteRule* match_route(const std::vector<RouteRule>& rules,
                                           std::string_view normalized_path);

}  // namespace gh::authz
