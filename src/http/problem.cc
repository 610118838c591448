#include "http/problem.h"

#include <array>

#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include "core/account/email.h"
#include "core/json/json.h"
#include "core/password/hasher.h"
#include "core/password/policy.h"
#include "service/accounts/accounts.h"
#include "service/authz/authz_service.h"
#include "service/mfa/mfa_service.h"
#include "service/recovery/recovery_service.h"
#include "service/tokens/token_service.h"
#include "store/store.h"

namespace gh::http {
namespace {

struct Row {
  std::error_code code;
  Problem problem;
};

const std::vector<Row>& table() {
  using json::JsonError;
  using password::PolicyError;
  static const std::vector<Row> rows = {
      // Request body shape.
      {make_error_code(JsonError::Malformed), {400, "malformed_json", "Malformed JSON"}},
      {make_error_code(JsonError::NotObject), {400, "invalid_body", "Body must be a JSON object"}},
      {make_error_code(JsonError::DuplicateKey), {400, "duplicate_member", "Duplicate JSON member"}},
      {make_error_code(JsonError::TooDeep), {400, "json_too_deep", "JSON nested too deeply"}},
      {make_error_code(JsonError::InvalidUtf8), {400, "invalid_utf8", "Invalid UTF-8"}},
      {make_error_code(JsonError::MissingField), {400, "missing_field", "Missing field"}},
      {make_error_code(JsonError::WrongType), {400, "wrong_type", "Wrong field type"}},
      {make_error_code(JsonError::TooLong), {400, "field_too_long", "Field too long"}},
      {make_error_code(JsonError::ControlChar), {400, "invalid_characters", "Invalid characters"}},
      {make_error_code(JsonError::UnknownField), {400, "unknown_field", "Unknown field"}},
      // Email and name.
      {make_error_code(account::EmailError::Empty), {422, "invalid_email", "Invalid email"}},
      {make_error_code(account::EmailError::TooLong), {422, "invalid_email", "Invalid email"}},
      {make_error_code(account::EmailError::BadSyntax), {422, "invalid_email", "Invalid email"}},
      {make_error_code(account::EmailError::BadDomain), {422, "invalid_email", "Invalid email"}},
      {make_error_code(account::EmailError::InvalidEncoding), {400, "invalid_utf8", "Invalid UTF-8"}},
      // Password policy: one code per rule so a client can explain it.
      {make_error_code(PolicyError::InvalidEncoding), {400, "invalid_password_encoding", "Invalid password encoding"}},
      {make_error_code(PolicyError::TooShort), {422, "password_too_short", "Password too short"}},
      {make_error_code(PolicyError::TooLong), {422, "password_too_long", "Password too long"}},
      {make_error_code(PolicyError::Common), {422, "password_common", "Password too common"}},
      {make_error_code(PolicyError::Breached), {422, "password_breached", "Password found in a breach"}},
      {make_error_code(PolicyError::Guessable), {422, "password_guessable", "Password too easy to guess"}},
      {make_error_code(PolicyError::ContextSpecific), {422, "password_context", "Password too close to your details"}},
      {make_error_code(password::HashError::TooLongForBcrypt), {422, "password_too_long", "Password too long"}},
      // Accounts.
      {make_error_code(service::AccountError::EmailTaken), {409, "email_taken", "Email already registered"}},
      {make_error_code(service::AccountError::InvalidCredentials), {401, "invalid_credentials", "Invalid credentials"}},
      {make_error_code(service::AccountError::Disabled), {403, "account_disabled", "Account disabled"}},
      {make_error_code(service::AccountError::EmailNotVerified), {403, "email_not_verified", "Email not verified"}},
      // Password reset and email verification.
      {make_error_code(service::RecoveryError::InvalidLink), {400, "invalid_link", "Invalid or expired link"}},
      // Second factors.
      {make_error_code(service::MfaError::InvalidCode), {401, "invalid_mfa_code", "Invalid code"}},
      {make_error_code(service::MfaError::InvalidChallenge), {401, "invalid_mfa_token", "Invalid or expired MFA token"}},
      {make_error_code(service::MfaError::AlreadyEnrolled), {409, "mfa_already_enrolled", "Already enrolled"}},
      {make_error_code(service::MfaError::NotEnrolled), {409, "mfa_not_enrolled", "No second factor"}},
      {make_error_code(service::MfaError::SecondFactorRequired), {401, "mfa_code_required", "Second factor required"}},
      {make_error_code(service::MfaError::EmailCodeRequired), {401, "email_code_required", "Email code required"}},
      {make_error_code(service::MfaError::InvalidEmailCode), {401, "invalid_email_code", "Invalid email code"}},
      {make_error_code(service::MfaError::EnrollmentRequired), {403, "mfa_enrollment_required", "Second factor enrolment required"}},
      // Authorization and the admin API.
      {make_error_code(service::AuthzFailure::Forbidden), {403, "forbidden", "Forbidden"}},
      {make_error_code(service::AuthzFailure::NotFound), {404, "not_found", "Not Found"}},
      {make_error_code(service::AuthzFailure::UnknownRole), {422, "unknown_role", "Unknown role"}},
      {make_error_code(service::AuthzFailure::AlreadyMember), {409, "already_member", "Already a member"}},
      {make_error_code(service::AuthzFailure::LastAdmin), {409, "last_admin", "Last admin"}},
      {make_error_code(service::AuthzFailure::ReauthRequired), {401, "reauthentication_required", "Reauthentication required"}},
      {make_error_code(service::AuthzFailure::InvalidClient), {401, "invalid_client", "Invalid client"}},
      {make_error_code(service::AuthzFailure::InvalidName), {422, "invalid_name", "Invalid name"}},
      // Tokens.
      {make_error_code(service::TokenError::InvalidToken), {401, "invalid_token", "Invalid token"}},
      {make_error_code(service::TokenError::TokenRevoked), {401, "invalid_token", "Invalid token"}},
      {make_error_code(service::TokenError::TokenExpired), {401, "token_expired", "Token expired"}},
      {make_error_code(service::TokenError::InvalidRefresh), {401, "invalid_refresh_token", "Invalid refresh token"}},
      {make_error_code(service::TokenError::RefreshExpired), {401, "refresh_token_expired", "Refresh token expired"}},
      {make_error_code(service::TokenError::RefreshReused), {401, "refresh_token_reused", "Refresh token reused"}},
      {make_error_code(service::KeyError::NoActiveKey), {503, "no_signing_key", "Service Unavailable"}},
      // Store.
      {make_error_code(store::StoreError::NotFound), {404, "not_found", "Not Found"}},
      {make_error_code(store::StoreError::Unavailable), {503, "store_unavailable", "Service Unavailable"}},
      {make_error_code(store::StoreError::Busy), {503, "store_busy", "Service Busy"}},
  };
  return rows;
}

}  // namespace

Problem problem_for(const Error& e) {
  for (const auto& row : table())
    if (row.code == e.code) return row.problem;
  return kInternal;
}

Response json_response(const Request& req, const RequestContext& ctx, unsigned status, std::string body) {
  Response res{static_cast<bhttp::status>(status), req.version()};
  res.set(bhttp::field::content_type, "application/json; charset=utf-8");
  res.set(bhttp::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Request-Id", ctx.request_id);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response problem_response(const Request& req, const RequestContext& ctx, const Problem& p, std::string_view detail) {
  nlohmann::json j = {{"type", "urn:gatehouse:problem:" + std::string(p.code)},
                      {"title", p.title},
                      {"status", p.status},
                      {"code", p.code},
                      {"request_id", ctx.request_id}};
  if (!detail.empty()) j["detail"] = detail;
  Response res = json_response(req, ctx, p.status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  res.set(bhttp::field::content_type, "application/problem+json; charset=utf-8");
  if (p.status == 503) res.set(bhttp::field::retry_after, "1");
  return res;
}

Response problem_response(const Request& req, const RequestContext& ctx, const Error& e) {
  const Problem p = problem_for(e);
  // Internal failures never echo driver or library text to the client.
  const bool safe = p.status < 500;
  // Merge the detail for credential errors: one body for every cause.
  if (p.code == "invalid_credentials") return problem_response(req, ctx, p, "The email or password is incorrect.");
  return problem_response(req, ctx, p, safe ? e.message() : std::string_view{});
}

}  // namespace gh::http
