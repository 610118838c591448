#include "http/router.h"

#include <gtest/gtest.h>

namespace gh::http {
namespace {

TEST(Router, MatchesLiteralAndParams) {
  Router r;
  const Handler h;
  r.add(bhttp::verb::get, "/healthz", h);
  r.add(bhttp::verb::get, "/v1/users/{id}", h);
  r.add(bhttp::verb::delete_, "/v1/users/{id}", h);
  RequestContext ctx;
  EXPECT_EQ(r.route(bhttp::verb::get, "/healthz", ctx).match, Router::Match::Found);
  EXPECT_EQ(ctx.route, "/healthz");
  auto m = r.route(bhttp::verb::get, "/v1/users/abc", ctx);
  EXPECT_EQ(m.match, Router::Match::Found);
  EXPECT_EQ(ctx.param("id"), "abc");
  EXPECT_EQ(ctx.route, "/v1/users/{id}");
}

TEST(Router, NotFoundAndMethodNotAllowed) {
  Router r;
  const Handler h;
  r.add(bhttp::verb::post, "/v1/login", h);
  r.add(bhttp::verb::put, "/v1/login", h);
  RequestContext ctx;
  EXPECT_EQ(r.route(bhttp::verb::get, "/v1/nope", ctx).match, Router::Match::NotFound);
  auto m = r.route(bhttp::verb::get, "/v1/login", ctx);
  EXPECT_EQ(m.match, Router::Match::MethodNotAllowed);
  EXPECT_EQ(m.allow, "POST, PUT");
}

TEST(Router, NonCanonicalPathsDoNotMatch) {
  Router r;
  const Handler h;
  r.add(bhttp::verb::post, "/v1/login", h);
  RequestContext ctx;
  for (const char* p : {"/v1/login/", "//v1/login", "/v1//login", "v1/login", ""})
    EXPECT_EQ(r.route(bhttp::verb::post, p, ctx).match, Router::Match::NotFound) << p;
}

}  // namespace
}  // namespace gh::http
