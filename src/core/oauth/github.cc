#include "core/oauth/github.h"

#include <cstdint>

#include "core/json/json.h"

namespace gh::oauth {
namespace {

using Json = nlohmann::json;

constexpr std::size_t kMaxFieldBytes = 255;

// A boolean member; absent is false, any other type is BadUserInfo.
Result<bool> flag(const Json& obj, const char* name) {
  const auto it = obj.find(name);
  if (it == obj.end()) return false;
  if (!it->is_boolean())
    return fail(OAuthError::BadUserInfo, std::string(name) + " must be a boolean");
  return it->get<bool>();
}

}  // namespace

Result<GithubUser> parse_github_user(std::string_view body) {
  auto doc = json::parse_object(body);
  if (!doc) return fail(OAuthError::BadUserInfo, doc.error().message());
  const auto id = doc->find("id");
  // A JSON integer only: "123" (a string) or 1.0 would each be a second
  // spelling of the same subject.
  if (id == doc->end() || !id->is_number_unsigned() || id->get<std::uint64_t>() == 0) {
    return fail(OAuthError::BadUserInfo, "id must be a positive integer");
  }
  GithubUser user;
  user.subject = std::to_string(id->get<std::uint64_t>());
  const auto login = doc->find("login");
  if (login == doc->end() || !login->is_string() || login->get_ref<const std::string&>().empty() ||
      login->get_ref<const std::string&>().size() > kMaxFieldBytes) {
    return fail(OAuthError::BadUserInfo, "login must be a non-empty string");
  }
  user.login = login->get<std::string>();
  if (const auto name = doc->find("name"); name != doc->end() && !name->is_null()) {
    if (!name->is_string() || name->get_ref<const std::string&>().size() > kMaxFieldBytes) {
      return fail(OAuthError::BadUserInfo, "name must be a string");
    }
    user.name = name->get<std::string>();
  }
  return user;
}

Result<std::optional<std::string>> github_primary_verified_email(std::string_view body) {
  auto doc = json::parse_value(body);
  if (!doc) return fail(OAuthError::BadUserInfo, doc.error().message());
  if (!doc->is_array()) return fail(OAuthError::BadUserInfo, "expected an array");
  std::optional<std::string> found;
  bool seen_primary = false;
  for (const Json& entry : *doc) {
    if (!entry.is_object()) return fail(OAuthError::BadUserInfo, "an entry is not an object");
    const auto email = entry.find("email");
    if (email == entry.end() || !email->is_string() ||
        email->get_ref<const std::string&>().empty() ||
        email->get_ref<const std::string&>().size() > kMaxFieldBytes) {
      return fail(OAuthError::BadUserInfo, "an entry has no email");
    }
    const auto primary = flag(entry, "primary");
    if (!primary) return fail(primary.error());
    const auto verified = flag(entry, "verified");
    if (!verified) return fail(verified.error());
    if (!*primary) continue;
    if (seen_primary) return fail(OAuthError::BadUserInfo, "two primary emails");
    seen_primary = true;
    if (*verified) found = email->get<std::string>();
  }
  return found;
}

}  // namespace gh::oauth
