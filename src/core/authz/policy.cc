#include "core/authz/policy.h"

#include <fmt/format.h>
#include <toml++/toml.h>

namespace gh::authz {

const char* describe(AuthzError e) {
  switch (e) {
    case AuthzError::BadPolicy: return "the authorization policy is not valid";
  }
  return "authorization error";
}
GH_DEFINE_ERROR_CATEGORY(AuthzError, "authz")

namespace {

tl::unexpected<Error> bad(std::string_view source, const toml::source_region& where, std::string_view why) {
  return fail(AuthzError::BadPolicy, fmt::format("{}: line {}: {}", source, where.begin.line, why));
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (const char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

// A list of names (resources or actions) at the top level.
Result<std::set<std::string, std::less<>>> names(const toml::table& t, std::string_view key, std::string_view source) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return fail(AuthzError::BadPolicy, fmt::format("{}: `{}` is missing", source, key));
  const toml::array* arr = n->as_array();
  if (arr == nullptr || arr->empty()) return bad(source, n->source(), fmt::format("`{}` must be a non-empty list of names", key));
  std::set<std::string, std::less<>> out;
  for (const auto& item : *arr) {
    auto s = item.value<std::string>();
    if (!s || !valid_name(*s)) return bad(source, item.source(), fmt::format("`{}` entries are lower-case names", key));
    if (!out.insert(*s).second) return bad(source, item.source(), fmt::format("`{}` lists '{}' twice", key, *s));
  }
  return out;
}

}  // namespace

Result<Policy> parse_policy(std::string_view text, std::string_view source) {
  toml::table t;
  try {
    t = toml::parse(text, std::string(source));
  } catch (const toml::parse_error& e) {
    return bad(source, e.source(), e.description());
  }
  Policy p;
  for (const auto& [key, node] : t) {
    if (key.str() != "resources" && key.str() != "actions" && key.str() != "roles")
      return bad(source, node.source(), fmt::format("unknown key `{}`", key.str()));
  }
  auto res = names(t, "resources", source);
  if (!res) return fail(res.error());
  auto act = names(t, "actions", source);
  if (!act) return fail(act.error());
  p.resources = std::move(*res);
  p.actions = std::move(*act);
  const toml::table* roles = t["roles"].as_table();
  if (roles == nullptr || roles->empty())
    return fail(AuthzError::BadPolicy, fmt::format("{}: `[roles.NAME]` tables are missing", source));
  for (const auto& [name, node] : *roles) {
    const toml::table* role = node.as_table();
    if (role == nullptr || !valid_name(name.str()))
      return bad(source, node.source(), fmt::format("role '{}' must be a [roles.NAME] table with a lower-case name", name.str()));
    for (const auto& [k, v] : *role)
      if (k.str() != "grants") return bad(source, v.source(), fmt::format("unknown key `{}` in role '{}'", k.str(), name.str()));
    const toml::array* grants = role->get_as<toml::array>("grants");
    if (grants == nullptr) return bad(source, node.source(), fmt::format("role '{}' needs `grants = [...]`", name.str()));
    auto& set = p.roles[std::string(name.str())];
    for (const auto& g : *grants) {
      auto s = g.value<std::string>();
      const auto colon = s ? s->find(':') : std::string::npos;
      if (!s || colon == std::string::npos)
        return bad(source, g.source(), "a grant is \"resource:action\" (\"*\" for any)");
      const std::string r = s->substr(0, colon);
      const std::string a = s->substr(colon + 1);
      if (r != "*" && !p.resources.contains(r))
        return bad(source, g.source(), fmt::format("unknown resource '{}' in role '{}'", r, name.str()));
      if (a != "*" && !p.actions.contains(a))
        return bad(source, g.source(), fmt::format("unknown action '{}' in role '{}'", a, name.str()));
      for (const auto& rr : p.resources)
        if (r == "*" || r == rr)
          for (const auto& aa : p.actions)
            if (a == "*" || a == aa) set.emplace(rr, aa);
    }
  }
  return p;
}

const Policy& default_policy() {
  static const Policy p = *parse_policy(R"(
resources = ["projects", "users", "billing", "reports"]
actions = ["read", "write", "delete", "admin"]
[roles.admin]
grants = ["*:*"]
[roles.manager]
grants = ["projects:read", "projects:write", "reports:read", "reports:write", "users:read", "billing:read"]
[roles.member]
grants = ["projects:read", "reports:read"]
)",
                                                  "default policy");
  return p;
}

Decision decide(const Policy& policy, const Subject& subject, std::string_view resource, std::string_view action) {
  if (!subject.authenticated) return {false, Reason::NotAuthenticated};
  // Membership before anything about the resource: a non-member learns nothing about it.
  if (subject.role_in_tenant.empty() && !subject.platform_admin) return {false, Reason::NotMember};
  if (!policy.resources.contains(resource)) return {false, Reason::UnknownResource};
  if (!policy.actions.contains(action)) return {false, Reason::UnknownAction};
  if (subject.platform_admin) return {true, Reason::PlatformAdmin};
  const auto role = policy.roles.find(subject.role_in_tenant);
  if (role == policy.roles.end()) return {false, Reason::UnknownRole};
  const bool granted = role->second.contains({std::string(resource), std::string(action)});
  return {granted, granted ? Reason::Granted : Reason::NotGranted};
}

std::string_view reason_code(Reason r) {
  switch (r) {
    case Reason::Granted: return "granted";
    case Reason::PlatformAdmin: return "platform_admin";
    case Reason::NotAuthenticated: return "not_authenticated";
    case Reason::NotMember: return "not_member";
    case Reason::UnknownRole: return "unknown_role";
    case Reason::UnknownResource: return "unknown_resource";
    case Reason::UnknownAction: return "unknown_action";
    case Reason::NotGranted: return "not_granted";
  }
  return "denied";
}

}  // namespace gh::authz
