// Router: maps (method, path) to a handler. Paths are literal segments or
// "{name}" parameters; the first matching route wins. Hand-written because
// Beast has no router and the table is tiny: a linear scan over split segments.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/types.h"

namespace gh::http {

using Handler = std::function<Awaitable(Request&, RequestContext&)>;

class Router {
 public:
  void add(bhttp::verb method, std::string pattern, Handler handler);

  enum class Match : std::uint8_t { Found, NotFound, MethodNotAllowed };
  struct Result {
    Match match = Match::NotFound;
    const Handler* handler = nullptr;
    std::string allow;  // for 405: the methods the path accepts
  };
  // Finds the route for `method` and `path` (no query string); fills ctx.route and ctx.params.
  [[nodiscard]] Result route(bhttp::verb method, std::string_view path, RequestContext& ctx) const;

 private:
  struct Route {
    bhttp::verb method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

// Splits "/a/b/c" into {"a","b","c"}; "/" gives {}.
[[nodiscard]] std::vector<std::string_view> split_path(std::string_view path);

}  // namespace gh::http
