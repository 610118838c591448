#include "http/router.h"

namespace gh::http {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

void Router::add(bhttp::verb method, std::string pattern, Handler handler) {
  Route r{method, std::move(pattern), {}, std::move(handler)};
  for (auto seg : split_path(r.pattern)) r.segments.emplace_back(seg);
  routes_.push_back(std::move(r));
}

Router::Result Router::route(bhttp::verb method, std::string_view path, RequestContext& ctx) const {
  const auto segs = split_path(path);
  // A trailing or doubled slash is a different resource; do not normalise it away.
  const bool canonical = !path.empty() && path.front() == '/' && (path.size() == 1 || path.back() != '/') &&
                         path.find("//") == std::string_view::npos;
  Result res;
  if (!canonical) return res;
  for (const auto& r : routes_) {
    if (r.segments.size() != segs.size()) continue;
    std::vector<std::pair<std::string, std::string>> params;
    bool ok = true;
    for (std::size_t i = 0; i < segs.size() && ok; ++i) {
      const std::string& p = r.segments[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        params.emplace_back(p.substr(1, p.size() - 2), std::string(segs[i]));
      } else {
        ok = p == segs[i];
      }
    }
    if (!ok) continue;
    if (r.method != method) {
      if (!res.allow.empty()) res.allow += ", ";
      res.allow += std::string(bhttp::to_string(r.method));
      res.match = Match::MethodNotAllowed;
      continue;
    }
    ctx.route = r.pattern;
    ctx.params = std::move(params);
    res.match = Match::Found;
    res.handler = &r.handler;
    return res;
  }
  return res;
}

}  // namespace gh::http
