#include "core/json/json.h"

#include <gtest/gtest.h>

namespace gh::json {
namespace {

JsonError code_of(const Result<Json>& r) { return static_cast<JsonError>(r.error().code.value()); }

TEST(ParseObject, AcceptsObject) {
  auto r = parse_object(R"({"email":"a@b.c","n":1,"nested":{"x":[1,2]}})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ((*r)["email"], "a@b.c");
}

TEST(ParseObject, Malformed) {
  for (const char* t : {"", "{", "{\"a\":}", "{} trailing", "nul", "{'a':1}"}) {
    auto r = parse_object(t);
    ASSERT_FALSE(r) << t;
    EXPECT_EQ(code_of(r), JsonError::Malformed) << t;
  }
}

TEST(ParseObject, NotObject) {
  for (const char* t : {"[]", "1", "\"s\"", "null", "true"}) {
    auto r = parse_object(t);
    ASSERT_FALSE(r) << t;
    EXPECT_EQ(code_of(r), JsonError::NotObject) << t;
  }
}

TEST(ParseObject, DuplicateKey) {
  auto r = parse_object(R"({"email":"a@b.c","email":"evil@x.y"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r), JsonError::DuplicateKey);
  auto nested = parse_object(R"({"a":{"k":1,"k":2}})");
  ASSERT_FALSE(nested);
  EXPECT_EQ(code_of(nested), JsonError::DuplicateKey);
  // The same name in different objects is fine.
  EXPECT_TRUE(parse_object(R"({"a":{"k":1},"b":{"k":2}})"));
}

TEST(ParseObject, TooDeep) {
  std::string deep(10000, '[');
  deep = "{\"a\":" + deep;
  auto r = parse_object(deep);
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r), JsonError::TooDeep);
}

TEST(ParseObject, InvalidUtf8) {
  auto r = parse_object("{\"a\":\"\xc3\x28\"}");
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r), JsonError::InvalidUtf8);
  auto escaped_surrogate = parse_object(R"({"a":"\ud800"})");
  ASSERT_FALSE(escaped_surrogate);
}

TEST(Fields, RequiredString) {
  auto obj = *parse_object(R"({"s":"ok","n":5,"nul":"a\u0000b","long":"xxxxxxxxxx"})");
  EXPECT_EQ(*required_string(obj, "s", 10), "ok");
  auto missing = required_string(obj, "absent", 10);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, make_error_code(JsonError::MissingField));
  EXPECT_NE(missing.error().detail.find("absent"), std::string::npos);
  EXPECT_EQ(required_string(obj, "n", 10).error().code, make_error_code(JsonError::WrongType));
  EXPECT_EQ(required_string(obj, "nul", 10).error().code, make_error_code(JsonError::ControlChar));
  EXPECT_EQ(required_string(obj, "long", 5).error().code, make_error_code(JsonError::TooLong));
}

TEST(Fields, OptionalString) {
  auto obj = *parse_object(R"({"a":null,"b":"x"})");
  EXPECT_EQ(*optional_string(obj, "a", 5), std::nullopt);
  EXPECT_EQ(*optional_string(obj, "zz", 5), std::nullopt);
  EXPECT_EQ(*optional_string(obj, "b", 5), std::optional<std::string>("x"));
}

TEST(Fields, OnlyFields) {
  auto obj = *parse_object(R"({"email":"a","password":"b","is_admin":true})");
  auto r = only_fields(obj, {"email", "password"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(JsonError::UnknownField));
  EXPECT_TRUE(only_fields(obj, {"email", "password", "is_admin"}));
}

}  // namespace
}  // namespace gh::json
