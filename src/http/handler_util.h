// Small helpers shared by the handler files: body parsing, error responses,
// request metadata for audit events, and the public JSON shape of a user.
#pragma once

#include <nlohmann/json.hpp>

#include "core/base/result.h"
#include "core/base/secret.h"
#include "core/json/json.h"
#include "core/web/web.h"
#include "http/types.h"
#include "service/common/audit.h"
#include "store/store.h"

namespace gh::http {

inline constexpr std::size_t kMaxEmailBytes = 320;
inline constexpr std::size_t kMaxPasswordBytes =
    4096;  // the policy counts code points; this bounds the work
inline constexpr std::size_t kMaxNameBytes = 400;
inline constexpr std::size_t kMaxTokenBytes = 8192;
inline constexpr std::size_t kMaxCodeBytes = 64;  // a TOTP or recovery code, with room for spaces and dashes

// The body as a JSON object. A wrong Content-Type is an Error with an empty code (-> 415).
[[nodiscard]] Result<json::Json> json_body(const Request& req);
// An error from a service or parser as problem+json (5xx are logged, details withheld).
[[nodiscard]] Response error_response(const Request& req, const RequestContext& ctx,
                                      const Error& e);
[[nodiscard]] Response overloaded(const Request& req, const RequestContext& ctx);
[[nodiscard]] service::RequestMeta meta_of(const Request& req, const RequestContext& ctx);
[[nodiscard]] nlohmann::json user_json(const store::User& u);
// The query string parsed like a form; a malformed query counts as empty.
[[nodiscard]] web::Form query_of(const Request& req);
// True for an application/x-www-form-urlencoded body (the hosted forms).
[[nodiscard]] bool is_form_post(const Request& req);
// 204 with the standard API headers.
[[nodiscard]] Response no_content(const Request& req, const RequestContext& ctx);
// Overwrites the parsed copy of a secret field in place, then drops it.
void wipe_secret_field(json::Json& body, std::string_view key);

}  // namespace gh::http
