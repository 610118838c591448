// The OpenAPI document served at /v1/openapi.json against the server's route
// table: every route documented, nothing documented that does not exist.
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/app.h"
#include "http/pages.h"

namespace gh::http {
namespace {

std::string method_name(bhttp::verb v) {
  std::string m(bhttp::to_string(v));
  for (char& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return m;
}

nlohmann::json document() {
  const auto text = embedded_page_file("openapi.json");
  EXPECT_FALSE(text.empty());
  return nlohmann::json::parse(text);
}

TEST(OpenApi, EveryRouteIsDocumentedAndNothingElse) {
  const auto doc = document();
  ASSERT_EQ(doc.value("openapi", ""), "3.1.0");
  std::set<std::pair<std::string, std::string>> routes;
  for (const auto& r : App::route_table()) {
    const std::string path(r.pattern), method = method_name(r.method);
    EXPECT_TRUE(routes.emplace(path, method).second)
        << "route registered twice: " << method << " " << path;
    ASSERT_TRUE(doc["paths"].contains(path)) << "undocumented path " << path;
    EXPECT_TRUE(doc["paths"][path].contains(method))
        << "undocumented operation " << method << " " << path;
  }
  static const std::set<std::string> kMethods = {"get",     "put",  "post",  "delete",
                                                 "options", "head", "patch", "trace"};
  std::set<std::string> ids;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      if (!kMethods.contains(method)) continue;  // "parameters" and the like
      EXPECT_TRUE(routes.contains({path, method}))
          << "documented but not routed: " << method << " " << path;
      ASSERT_TRUE(op.contains("operationId")) << method << " " << path;
      EXPECT_TRUE(ids.insert(op["operationId"].get<std::string>()).second)
          << "duplicate operationId at " << path;
      EXPECT_FALSE(op["responses"].empty()) << method << " " << path;
    }
  }
  EXPECT_EQ(ids.size(), routes.size());
}

TEST(OpenApi, EveryProblemCodeTheDocumentNamesHasAStatus) {
  const auto doc = document();
  const auto& schemas = doc["components"]["schemas"];
  ASSERT_TRUE(schemas.contains("Problem"));
  // The authorization codes of docs/authz.md are part of the contract.
  const std::string text = doc.dump();
  for (const char* code :
       {"forbidden", "reauthentication_required", "invalid_client", "unknown_role",
        "already_member", "last_admin", "invalid_name", "invalid_token", "rate_limited"})
    EXPECT_NE(text.find(std::string("\"") + code + "\""), std::string::npos) << code;
}

}  // namespace
}  // namespace gh::http
