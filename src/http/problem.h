// RFC 9457 problem+json responses, and the one table that maps every error
// code that can leave the server to an HTTP status and a stable `code`.
//
// Clients see the `code`; the precise internal value goes to the audit log.
// Codes merge on the way out where telling them apart would leak (unknown
// user and wrong password both leave as invalid_credentials).
#pragma once

#include <string_view>

#include "core/base/result.h"
#include "http/types.h"

namespace gh::http {

struct Problem {
  unsigned status;
  std::string_view code;   // stable, snake_case
  std::string_view title;  // short, constant per code
};

// The problem for an error returned by a service or core component.
// Unknown codes map to 500 internal_error (and are logged by the caller).
[[nodiscard]] Problem problem_for(const Error& e);

// Builds a problem+json response. `detail` must be client-safe.
[[nodiscard]] Response problem_response(const Request& req, const RequestContext& ctx, const Problem& p,
                                        std::string_view detail);
[[nodiscard]] Response problem_response(const Request& req, const RequestContext& ctx, const Error& e);

// Common transport-level problems.
inline constexpr Problem kNotFound{404, "not_found", "Not Found"};
inline constexpr Problem kMethodNotAllowed{405, "method_not_allowed", "Method Not Allowed"};
inline constexpr Problem kUnsupportedMediaType{415, "unsupported_media_type", "Unsupported Media Type"};
inline constexpr Problem kPayloadTooLarge{413, "payload_too_large", "Payload Too Large"};
inline constexpr Problem kHeadersTooLarge{431, "headers_too_large", "Request Header Fields Too Large"};
inline constexpr Problem kBadRequest{400, "bad_request", "Bad Request"};
inline constexpr Problem kOverloaded{503, "overloaded", "Service Overloaded"};
inline constexpr Problem kUnavailable{503, "unavailable", "Service Unavailable"};
inline constexpr Problem kInternal{500, "internal_error", "Internal Server Error"};

// A JSON response with the standard API headers (no-store, nosniff, request id).
[[nodiscard]] Response json_response(const Request& req, const RequestContext& ctx, unsigned status,
                                     std::string body);

}  // namespace gh::http
