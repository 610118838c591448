// libgatehouse's token verifier: core/jwt for the checks, libcurl for the
// JWKS (TLS verification on, redirects off, size and time bounded).
#include "gatehouse/verifier.h"

#include <atomic>
#include <mutex>
#include <shared_mutex>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "core/base/clock.h"
#include "core/json/json.h"
#include "core/jwt/jwt.h"

namespace gatehouse {
namespace {

constexpr std::size_t kMaxDocument = 512 * 1024;

size_t on_data(char* p, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() + size * n > kMaxDocument) return 0;  // abort: too large
  s->append(p, size * n);
  return size * n;
}

// Plain http is allowed only to a loopback host, decided on the parsed host
// (a prefix test would let http://127.0.0.1.evil.example through).
bool is_loopback_http(const std::string& url) {
  CURLU* u = curl_url();
  if (u == nullptr) return false;
  bool ok = false;
  char* scheme = nullptr;
  char* host = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    const std::string_view h(host);
    ok = std::string_view(scheme) == "http" &&
         (h == "localhost" || h == "[::1]" || (h.starts_with("127.") && h.find_first_not_of("0123456789.") == std::string_view::npos));
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return ok;
}

// GET `url` -> body, or an error message.
bool http_get(const std::string& url, const VerifierOptions& o, std::string& body, std::string& error) {
  if (!url.starts_with("https://") && !(o.allow_http && is_loopback_http(url))) {
    // (https URLs are parsed by libcurl itself; redirects are never followed.)
    error = "refusing to fetch a non-https URL: " + url;
    return false;
  }
  CURL* c = curl_easy_init();
  if (c == nullptr) {
    error = "curl_easy_init failed";
    return false;
  }
  body.clear();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(o.http_timeout.count() * 1000));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) {
    error = std::string("fetch failed: ") + curl_easy_strerror(rc);
    return false;
  }
  if (status != 200) {
    error = "fetch failed: HTTP " + std::to_string(status);
    return false;
  }
  return true;
}

gh::Seconds now() { return gh::SystemClock{}.now(); }

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct Verifier::Impl {
  VerifierOptions o;
  std::string jwks_uri;
  mutable std::shared_mutex mu;
  std::shared_ptr<const gh::jwt::KeySet> keys;  // GUARDED_BY(mu)
  std::mutex fetch_mu;                           // one fetch at a time
  std::atomic<std::int64_t> last_fetch_ms{0};  // steady clock, ms
  std::atomic<std::uint64_t> fetches{0};

  // Loads a JWKS document; keys that fail to import (unknown kty, weak RSA) are skipped.
  bool load(std::string_view doc, std::string& error) {
    auto j = gh::json::parse_object(doc);
    if (!j || !j->contains("keys") || !(*j)["keys"].is_array()) {
      error = "the JWKS is not a JSON object with a keys array";
      return false;
    }
    auto set = std::make_shared<gh::jwt::KeySet>();
    for (const auto& k : (*j)["keys"]) {
      auto key = gh::jwt::VerifyKey::from_jwk(k);
      if (key) (void)set->add(std::move(*key));
    }
    std::unique_lock lock(mu);
    keys = std::move(set);
    return true;
  }

  // Fetches the JWKS unless one was fetched less than `min_gap` ago.
  bool fetch(std::chrono::seconds min_gap, std::string& error) {
    std::lock_guard lock(fetch_mu);
    const std::int64_t t = steady_ms();
    if (fetches > 0 && t - last_fetch_ms < std::chrono::milliseconds(min_gap).count()) return true;
    last_fetch_ms = t;
    ++fetches;
    std::string body;
    if (!http_get(jwks_uri, o, body, error)) return false;
    return load(body, error);
  }

  std::shared_ptr<const gh::jwt::KeySet> current() const {
    std::shared_lock lock(mu);
    return keys;
  }
};

Verifier::Verifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Verifier::~Verifier() = default;

Verifier::Created Verifier::create(VerifierOptions options) {
  static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!curl_ready) return {nullptr, "libcurl could not be initialised"};
  if (options.issuer.empty() || options.audience.empty()) return {nullptr, "issuer and audience are required"};
  auto impl = std::make_unique<Impl>();
  impl->o = std::move(options);
  std::string error;
  if (!impl->o.jwks_json.empty()) {
    if (!impl->load(impl->o.jwks_json, error)) return {nullptr, error};
    return {std::unique_ptr<Verifier>(new Verifier(std::move(impl))), ""};
  }
  impl->jwks_uri = impl->o.jwks_uri;
  if (impl->jwks_uri.empty()) {
    std::string body;
    std::string issuer = impl->o.issuer;
    while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
    if (!http_get(issuer + "/.well-known/openid-configuration", impl->o, body, error)) return {nullptr, error};
    auto doc = gh::json::parse_object(body);
    if (!doc || !doc->contains("jwks_uri") || !(*doc)["jwks_uri"].is_string() ||
        doc->value("issuer", "") != impl->o.issuer) {
      return {nullptr, "the discovery document has no jwks_uri or names another issuer"};
    }
    impl->jwks_uri = (*doc)["jwks_uri"].get<std::string>();
  }
  if (!impl->fetch(std::chrono::seconds{0}, error)) return {nullptr, error};
  return {std::unique_ptr<Verifier>(new Verifier(std::move(impl))), ""};
}

VerifyResult Verifier::verify(std::string_view token) {
  VerifyResult r;
  Impl& m = *impl_;
  const bool online = m.o.jwks_json.empty();
  if (online && steady_ms() - m.last_fetch_ms > std::chrono::milliseconds(m.o.refresh_interval).count()) {
    std::string ignored;  // a failed refresh keeps the keys we have
    (void)m.fetch(m.o.refresh_interval, ignored);
  }
  gh::jwt::VerifyOptions opts;
  opts.issuer = m.o.issuer;
  opts.audience = m.o.audience;
  opts.leeway = m.o.leeway;
  auto v = gh::jwt::verify_jwt(token, *m.current(), opts, now());
  if (!v && online && v.error().code == gh::jwt::make_error_code(gh::jwt::JwtError::UnknownKid)) {
    std::string error;
    if (m.fetch(m.o.min_refetch_interval, error)) v = gh::jwt::verify_jwt(token, *m.current(), opts, now());
  }
  if (!v) {
    r.error = v.error().code == gh::jwt::make_error_code(gh::jwt::JwtError::Expired) ? "token_expired" : "invalid_token";
    r.detail = v.error().message();
    return r;
  }
  const auto& c = v->claims;
  r.ok = true;
  r.identity.subject = c.value("sub", "");
  r.identity.token_id = c.value("jti", "");
  r.identity.client_id = c.value("client_id", "");
  r.identity.session_id = c.value("sid", "");
  r.identity.expires_at = c.value("exp", std::int64_t{0});
  r.identity.auth_time = c.value("auth_time", std::int64_t{0});
  r.identity.claims_json = c.dump();
  return r;
}

std::uint64_t Verifier::fetch_count() const { return impl_->fetches.load(); }

}  // namespace gatehouse
