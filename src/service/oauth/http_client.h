// HttpClient: the back-channel calls of a federated sign-in (discovery, JWKS,
// token endpoint, GitHub's REST API), behind an interface so service tests can
// answer them from memory. make_curl_http_client() is the real one: libcurl
// with TLS verification on (peer and host), http/https only, no redirects
// followed, a total timeout per call and a cap on the reply size.
//
// Thread-safety: the curl client holds no state between calls; any number of
// threads may call it. Calls block (run them on a worker pool).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/base/secret.h"

namespace gh::service {

struct HttpReply {
  long status = 0;
  std::string body;
  std::string cache_control;  // the Cache-Control header, for JWKS/discovery lifetimes
};

// HTTP Basic credentials (RFC 6749 §2.3.1: each part form-urlencoded first).
struct BasicAuth {
  std::string user;
  const SecretString* password = nullptr;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // GET `url` with extra header lines ("Name: value"). Any status is a reply;
  // errors: FederationError::ProviderUnavailable (DNS, connect, TLS, timeout,
  // reply over the size cap).
  [[nodiscard]] virtual Result<HttpReply> get(const std::string& url,
                                              const std::vector<std::string>& headers) = 0;
  // POST an application/x-www-form-urlencoded `body`. Errors as get().
  [[nodiscard]] virtual Result<HttpReply> post_form(const std::string& url, const std::string& body,
                                                    const std::vector<std::string>& headers,
                                                    const BasicAuth* auth) = 0;
};

// Replies over this many bytes are refused (ProviderUnavailable).
inline constexpr std::size_t kMaxReplyBytes = 1024 * 1024;

// `timeout` bounds each whole call, connect included.
[[nodiscard]] std::unique_ptr<HttpClient> make_curl_http_client(std::chrono::milliseconds timeout);

}  // namespace gh::service
