// Authorization core cost (issue #6): the pure decision function decide() on
// the default policy, one benchmark per outcome (granted, not granted, not a
// member, platform admin, unknown resource); parse_policy on the default
// policy's text; and the forward-auth route path: normalize_route_path plus
// match_route on a 10-rule table.
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/authz/policy.h"
#include "core/authz/routes.h"

namespace {

using gh::authz::Decision;
using gh::authz::Reason;
using gh::authz::Subject;

// The text default_policy() parses (policy.cc keeps it private); checked
// against default_policy() at start so the two cannot drift apart unnoticed.
constexpr std::string_view kDefaultPolicyText = R"(
resources = ["projects", "users", "billing", "reports"]
actions = ["read", "write", "delete", "admin"]
[roles.admin]
grants = ["*:*"]
[roles.manager]
grants = ["projects:read", "projects:write", "reports:read", "reports:write", "users:read", "billing:read"]
[roles.member]
grants = ["projects:read", "reports:read"]
)";

// decide() once, checked for the expected outcome, then timed.
void run_decide(benchmark::State& state, const Subject& subject, std::string_view resource, std::string_view action,
                bool allow, Reason reason) {
  const auto& policy = gh::authz::default_policy();
  const Decision first = gh::authz::decide(policy, subject, resource, action);
  if (first.allow != allow || first.reason != reason) {
    state.SkipWithError("unexpected decision");
    return;
  }
  for (auto _ : state) {
    // Hide the inputs from the optimiser too, so the call is not hoisted out of the loop.
    benchmark::DoNotOptimize(subject);
    benchmark::DoNotOptimize(resource);
    benchmark::DoNotOptimize(action);
    Decision d = gh::authz::decide(policy, subject, resource, action);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}

void decide_granted(benchmark::State& state) {
  run_decide(state, Subject{true, false, "manager"}, "projects", "write", true, Reason::Granted);
}
void decide_not_granted(benchmark::State& state) {
  run_decide(state, Subject{true, false, "member"}, "billing", "delete", false, Reason::NotGranted);
}
void decide_not_member(benchmark::State& state) {
  run_decide(state, Subject{true, false, ""}, "projects", "read", false, Reason::NotMember);
}
void decide_platform_admin(benchmark::State& state) {
  run_decide(state, Subject{true, true, ""}, "billing", "admin", true, Reason::PlatformAdmin);
}
void decide_unknown_resource(benchmark::State& state) {
  run_decide(state, Subject{true, false, "manager"}, "invoices", "read", false, Reason::UnknownResource);
}

bool same_policy(const gh::authz::Policy& a, const gh::authz::Policy& b) {
  return a.resources == b.resources && a.actions == b.actions && a.roles == b.roles;
}

void parse_default_policy(benchmark::State& state) {
  auto p = gh::authz::parse_policy(kDefaultPolicyText, "bench");
  if (!p || !same_policy(*p, gh::authz::default_policy())) {
    state.SkipWithError("the bench's policy text differs from default_policy()");
    return;
  }
  for (auto _ : state) {
    std::string_view text = kDefaultPolicyText;
    benchmark::DoNotOptimize(text);
    auto r = gh::authz::parse_policy(text, "bench");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kDefaultPolicyText.size()));
}

// A 10-rule forward-auth table (nested prefixes, so the longest match matters).
const std::vector<gh::authz::RouteRule>& rules10() {
  static const std::vector<gh::authz::RouteRule> r = [] {
    auto parsed = gh::authz::parse_route_rules(
        "/admin/=users:admin, /admin/billing/=billing:admin, /billing/=billing:read, /billing/invoices/=billing:write, "
        "/reports/=reports:read, /reports/export/=reports:write, /projects/=projects:read, "
        "/projects/settings/=projects:admin, /users/=users:read, /api/v2/projects/=projects:write",
        gh::authz::default_policy());
    if (!parsed || parsed->size() != 10) std::abort();
    return std::move(*parsed);
  }();
  return r;
}

// normalize_route_path + match_route on one raw path; `want` is the expected prefix ("" = no
// rule), `refused` whether the normaliser must refuse the path (fail closed).
void run_route(benchmark::State& state, std::string_view raw, std::string_view want, bool refused = false) {
  const auto& rules = rules10();
  const auto n = gh::authz::normalize_route_path(raw);
  const auto* hit = n ? gh::authz::match_route(rules, *n) : nullptr;
  if (n.has_value() == refused || (hit ? std::string_view(hit->prefix) : std::string_view{}) != want) {
    state.SkipWithError("unexpected route match");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(raw);
    auto path = gh::authz::normalize_route_path(raw);
    const gh::authz::RouteRule* rule = path ? gh::authz::match_route(rules, *path) : nullptr;
    benchmark::DoNotOptimize(path);
    benchmark::DoNotOptimize(rule);
  }
  state.SetItemsProcessed(state.iterations());
}

void route_plain_match(benchmark::State& state) {
  run_route(state, "/admin/billing/accounts/42?tab=usage", "/admin/billing/");
}
void route_tricky_match(benchmark::State& state) {  // an unreserved escape, a backslash, '//', case
  run_route(state, "//ADMIN\\%62illing//accounts/42", "/admin/billing/");
}
void route_refused(benchmark::State& state) {  // a dot segment: refused, not resolved
  run_route(state, "/static/../admin/billing/accounts/42", "", true);
}
void route_no_match(benchmark::State& state) {
  run_route(state, "/static/css/site.4f2a9c.css", "");
}
// match_route alone, on an already normalised path.
void route_match_only(benchmark::State& state) {
  const auto& rules = rules10();
  std::string path = "/admin/billing/accounts/42";
  if (gh::authz::match_route(rules, path) == nullptr) {
    state.SkipWithError("no match");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(path);
    const gh::authz::RouteRule* rule = gh::authz::match_route(rules, path);
    benchmark::DoNotOptimize(rule);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(decide_granted);
BENCHMARK(decide_not_granted);
BENCHMARK(decide_not_member);
BENCHMARK(decide_platform_admin);
BENCHMARK(decide_unknown_resource);
BENCHMARK(parse_default_policy)->Unit(benchmark::kMicrosecond);
BENCHMARK(route_plain_match);
BENCHMARK(route_tricky_match);
BENCHMARK(route_no_match);
BENCHMARK(route_refused);
BENCHMARK(route_match_only);

BENCHMARK_MAIN();
