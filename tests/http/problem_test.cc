#include "http/problem.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "service/accounts/accounts.h"
#include "store/store.h"

namespace gh::http {
namespace {

TEST(Problem, CredentialErrorsLeaveAsOneBody) {
  Request req{bhttp::verb::post, "/v1/login", 11};
  RequestContext ctx{"rid", "127.0.0.1", "/v1/login", {}, {}};
  const Error a{make_error_code(service::AccountError::InvalidCredentials), "unknown user x@y"};
  const Error b{make_error_code(service::AccountError::InvalidCredentials), "wrong password"};
  const Response ra = problem_response(req, ctx, a);
  const Response rb = problem_response(req, ctx, b);
  EXPECT_EQ(ra.result_int(), 401U);
  EXPECT_EQ(ra.body(), rb.body());
  EXPECT_EQ(ra.body().find("x@y"), std::string::npos);
  EXPECT_EQ(ra[bhttp::field::content_type], "application/problem+json; charset=utf-8");
}

TEST(Problem, InternalErrorsDoNotEchoDetails) {
  Request req{bhttp::verb::get, "/x", 11};
  RequestContext ctx{"rid", "127.0.0.1", "/x", {}, {}};
  const Error e{make_error_code(store::StoreError::Internal), "SQL: syntax error near users"};
  const Response r = problem_response(req, ctx, e);
  EXPECT_EQ(r.result_int(), 500U);
  EXPECT_EQ(r.body().find("SQL"), std::string::npos);
  const auto j = nlohmann::json::parse(r.body());
  EXPECT_EQ(j["code"], "internal_error");
  EXPECT_EQ(j["request_id"], "rid");
}

TEST(Problem, UnavailableCarriesRetryAfter) {
  Request req{bhttp::verb::get, "/x", 11};
  RequestContext ctx{"rid", "", "/x", {}, {}};
  const Response r = problem_response(req, ctx, Error{make_error_code(store::StoreError::Unavailable), ""});
  EXPECT_EQ(r.result_int(), 503U);
  EXPECT_EQ(r[bhttp::field::retry_after], "1");
}

}  // namespace
}  // namespace gh::http
