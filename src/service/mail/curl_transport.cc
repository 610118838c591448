// The libcurl SMTP transport (smtp_mailer.h: make_curl_transport).
#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "service/mail/smtp_mailer.h"

namespace gh::service {

namespace {

struct Upload {
  std::string_view data;
  std::size_t pos = 0;
};

std::size_t on_read(char* buf, std::size_t size, std::size_t n, void* user) {
  auto* up = static_cast<Upload*>(user);
  const std::size_t len = std::min(size * n, up->data.size() - up->pos);
  std::memcpy(buf, up->data.data() + up->pos, len);
  up->pos += len;
  return len;
}

int on_progress(void* user, curl_off_t /*dltotal*/, curl_off_t /*dlnow*/, curl_off_t /*ultotal*/,
                curl_off_t /*ulnow*/) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1
                                                             : 0;  // non-zero aborts the transfer
}

class CurlSmtpTransport final : public SmtpTransport {
 public:
  explicit CurlSmtpTransport(SmtpSettings s) : s_(std::move(s)) {}

  Outcome deliver(std::string_view from, std::string_view to, std::string_view eml,
                  std::chrono::milliseconds budget, const std::atomic<bool>& abort) override {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> c(curl_easy_init(), &curl_easy_cleanup);
    if (!c) return {false, false, "libcurl could not create a handle"};
    CURL* h = c.get();
    const std::string mail_from = fmt::format("<{}>", from);
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt(
        curl_slist_append(nullptr, fmt::format("<{}>", to).c_str()), &curl_slist_free_all);
    if (!rcpt) return {false, false, "out of memory"};
    Upload up{eml};
    std::array<char, CURL_ERROR_SIZE> errbuf{};
    const auto total = std::max(
        std::min(budget, std::chrono::duration_cast<std::chrono::milliseconds>(s_.timeout)),
        std::chrono::milliseconds{1});
    const auto connect =
        std::min(total, std::chrono::duration_cast<std::chrono::milliseconds>(s_.connect_timeout));

    curl_easy_setopt(h, CURLOPT_URL, s_.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    // smtp:// + required: STARTTLS or no delivery (CURLUSESSL_ALL fails when the
    // server does not offer it, instead of falling back to clear text).
    curl_easy_setopt(h, CURLOPT_USE_SSL,
                     static_cast<long>(s_.require_tls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(total.count()));
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(eml.size()));
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf.data());
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(&abort));
    if (!s_.user.empty()) {
      // libcurl copies both strings into the handle.
      std::string password(s_.password.expose());
      curl_easy_setopt(h, CURLOPT_USERNAME, s_.user.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, password.c_str());
      wipe(password);
    }
    const CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK) return {true, false, ""};
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    std::string error =
        errbuf[0] != '\0' ? std::string(errbuf.data()) : std::string(curl_easy_strerror(rc));
    if (code > 0) error += fmt::format(" (last SMTP reply {})", code);
    // RFC 5321 §4.2.3: 550-554 refuse this recipient or message for good, and
    // 500/501 its syntax (e.g. a UTF-8 address to a server without SMTPUTF8).
    // Every other failure (network, TLS, 4xx, 530/535 authentication: settings
    // an operator can fix) is worth retrying.
    const bool permanent = code == 500 || code == 501 || (code >= 550 && code <= 554);
    // No reply at all (connect, DNS, timeout before the greeting), 421 "service
    // not available", or a TLS/AUTH failure: nothing to do with this message.
    const bool unavailable = code == 0 || code == 421 || rc == CURLE_USE_SSL_FAILED ||
                             rc == CURLE_SSL_CONNECT_ERROR ||
                             rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_LOGIN_DENIED;
    return {false, permanent, std::move(error), unavailable};
  }

 private:
  const SmtpSettings s_;
};

}  // namespace

std::unique_ptr<SmtpTransport> make_curl_transport(SmtpSettings s) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return std::make_unique<CurlSmtpTransport>(std::move(s));
}

}  // namespace gh::service
