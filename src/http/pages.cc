#include "http/pages.h"

#include <boost/beast/http/field.hpp>

namespace gh::http {

namespace {
constexpr std::string_view kTemplates[] = {"layout.mustache", "login.mustache",   "register.mustache",
                                           "logout.mustache", "account.mustache", "message.mustache", "reauth.mustache", "forgot.mustache", "reset.mustache", "verify.mustache"};

std::string render_file(std::string_view name, const PageData& data) {
  kainjow::mustache::mustache tmpl{std::string(embedded_page_file(name))};
  return tmpl.render(data);
}
}  // namespace

Pages::Pages(std::span<const std::string> form_targets, bool https) : https_(https) {
  // No script-src: nothing runs. form-action must include the origins a
  // sign-in may redirect to (browsers apply it to the redirect after a POST).
  std::string form_action = "'self'";
  for (const auto& o : form_targets) form_action += " " + o;
  csp_ = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action " + form_action +
         "; frame-ancestors 'none'; base-uri 'none'";
}

bool Pages::templates_valid(std::string* why) {
  for (const auto name : kTemplates) {
    kainjow::mustache::mustache tmpl{std::string(embedded_page_file(name))};
    if (embedded_page_file(name).empty() || !tmpl.is_valid()) {
      if (why) *why = std::string(name) + ": " + tmpl.error_message();
      return false;
    }
  }
  return !embedded_page_file("gatehouse.css").empty();
}

std::string Pages::render(std::string_view page, const PageData& data, const PageFrame& frame) const {
  PageData layout;
  layout.set("title", std::string(frame.title));
  if (!frame.notice.empty()) layout.set("notice", std::string(frame.notice));
  if (!frame.error.empty()) layout.set("error", std::string(frame.error));
  layout.set("wide", frame.wide ? PageData::type::bool_true : PageData::type::bool_false);
  layout.set("referrer", std::string(frame.referrer));
  // The page body is our own escaped output, so the layout takes it unescaped ({{{body}}}).
  layout.set("body", render_file(page, data));
  return render_file("layout.mustache", layout);
}

void Pages::secure(Response& res, const RequestContext& ctx) const {
  res.set(bhttp::field::cache_control, "no-store");
  res.set("Content-Security-Policy", csp_);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  // same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on our own form posts.
  res.set("Referrer-Policy", "same-origin");
  res.set("Cross-Origin-Opener-Policy", "same-origin");
  res.set("Cross-Origin-Resource-Policy", "same-origin");
  res.set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()");
  if (https_) res.set(bhttp::field::strict_transport_security, "max-age=31536000; includeSubDomains");
  res.set("X-Request-Id", ctx.request_id);
}

Response Pages::html(const Request& req, const RequestContext& ctx, unsigned status, std::string body) const {
  Response res{static_cast<bhttp::status>(status), req.version()};
  res.set(bhttp::field::content_type, "text/html; charset=utf-8");
  secure(res, ctx);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response Pages::redirect(const Request& req, const RequestContext& ctx, std::string_view location) const {
  Response res{bhttp::status::see_other, req.version()};
  secure(res, ctx);
  res.set(bhttp::field::location, location);
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

Response Pages::stylesheet(const Request& req, const RequestContext& ctx) const {
  Response res{bhttp::status::ok, req.version()};
  res.set(bhttp::field::content_type, "text/css; charset=utf-8");
  res.set(bhttp::field::cache_control, "public, max-age=3600");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Cross-Origin-Resource-Policy", "same-origin");
  res.set("X-Request-Id", ctx.request_id);
  res.keep_alive(req.keep_alive());
  res.body() = std::string(embedded_page_file("gatehouse.css"));
  res.prepare_payload();
  return res;
}

}  // namespace gh::http
