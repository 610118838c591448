#include "service/oauth/http_client.h"

#include <curl/curl.h>

#include <array>
#include <mutex>

#include <spdlog/spdlog.h>

#include "core/web/web.h"
#include "service/oauth/oauth_service.h"

namespace gh::service {
namespace {

struct Sink {
  std::string body;
  std::string cache_control;
  bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t len = size * n;
  if (sink->body.size() + len > kMaxReplyBytes) {
    sink->too_large = true;
    return 0;  // aborts the transfer
  }
  sink->body.append(data, len);
  return len;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::string_view line(data, size * n);
  constexpr std::string_view kName = "cache-control:";
  if (line.size() > kName.size()) {
    std::string lower(line.substr(0, kName.size()));
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower == kName) {
      std::string_view v = line.substr(kName.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' '))
        v.remove_suffix(1);
      sink->cache_control = std::string(v);
    }
  }
  return size * n;
}

using Handle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using Headers = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  Result<HttpReply> get(const std::string& url, const std::vector<std::string>& headers) override {
    return perform(url, nullptr, headers, nullptr);
  }

  Result<HttpReply> post_form(const std::string& url, const std::string& body,
                              const std::vector<std::string>& headers,
                              const BasicAuth* auth) override {
    return perform(url, &body, headers, auth);
  }

 private:
  Result<HttpReply> perform(const std::string& url, const std::string* post,
                            const std::vector<std::string>& headers, const BasicAuth* auth) {
    Handle c(curl_easy_init(), &curl_easy_cleanup);
    if (!c) return fail(FederationError::ProviderUnavailable, "libcurl could not create a handle");
    CURL* h = c.get();
    Headers list(nullptr, &curl_slist_free_all);
    for (const auto& line : headers) {
      curl_slist* next = curl_slist_append(list.get(), line.c_str());
      if (next == nullptr) return fail(FederationError::ProviderUnavailable, "out of memory");
      (void)list.release();
      list.reset(next);
    }
    Sink sink;
    std::array<char, CURL_ERROR_SIZE> errbuf{};
    const long total = static_cast<long>(timeout_.count());
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    // Never follow a redirect: a token endpoint that redirects would take the
    // code and our credentials elsewhere (RFC 9700 §4.12 is about the front
    // channel, but the same caution applies here).
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);  // SECURITY-CHECKLIST.md C19
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, total);
    curl_easy_setopt(h, CURLOPT_USERAGENT,
                     "Gatehouse");  // GitHub's API refuses requests without one
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list.get());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf.data());
    if (post != nullptr) {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, post->c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(post->size()));
    }
    std::string user;
    std::string password;
    if (auth != nullptr && auth->password != nullptr) {
      // libcurl copies both into the handle; our copies are wiped below.
      user = web::url_encode(auth->user);
      password = web::url_encode(auth->password->expose());
      curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(h, CURLOPT_USERNAME, user.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, password.c_str());
    }
    const CURLcode rc = curl_easy_perform(h);
    wipe(password);
    if (rc != CURLE_OK) {
      // The URL is the provider's endpoint (never carries a secret); the code
      // and the secret travel in the body and the Authorization header.
      const std::string why = sink.too_large      ? "reply too large"
                              : errbuf[0] != '\0' ? std::string(errbuf.data())
                                                  : std::string(curl_easy_strerror(rc));
      spdlog::warn("oauth: {} {} failed: {}", post != nullptr ? "POST" : "GET", url, why);
      return fail(FederationError::ProviderUnavailable, rc == CURLE_OPERATION_TIMEDOUT
                                                            ? "the provider did not answer in time"
                                                            : "the provider could not be reached");
    }
    HttpReply reply;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
    reply.body = std::move(sink.body);
    reply.cache_control = std::move(sink.cache_control);
    return reply;
  }

  const std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<HttpClient> make_curl_http_client(std::chrono::milliseconds timeout) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return std::make_unique<CurlHttpClient>(timeout);
}

}  // namespace gh::service
