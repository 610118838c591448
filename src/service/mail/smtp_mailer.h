// SmtpMailer: mail through an SMTP server, from a persistent spool.
//
// send() renders the message, stores it in the Spool (fsync'd, atomic) and
// wakes the sender; it never touches the network. One sender thread delivers
// due messages oldest first through an SmtpTransport (libcurl in production),
// deletes each on success, and on failure schedules a retry with exponential
// backoff (core/mail/retry.h: 5 s doubling to 1 h, a last try 24 h after
// queueing). While the server is unreachable only the oldest due message is
// tried, on its own schedule: a long outage costs one connection attempt per
// backoff step, not one per message. A permanent refusal (500/501, 550-554)
// or the end of retries moves the message to <spool>/failed/ and logs an error
// naming the id, the recipient and the server's answer, never the body.
// start() first delivers whatever the spool already holds, so a restart loses
// no mail. stop() delivers what is due within a bound, aborts a transfer still
// running at the bound, and leaves the rest queued.
//
// Thread-safety: send/status/pending from any thread. start/stop from the owner.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "core/base/clock.h"
#include "core/base/random.h"
#include "core/base/secret.h"
#include "core/mail/retry.h"
#include "service/mail/mailer.h"
#include "service/mail/spool.h"

namespace gh::service {

// One SMTP transaction. Implementations must be safe to call from the sender thread.
class SmtpTransport {
 public:
  struct Outcome {
    bool delivered = false;
    bool permanent = false;  // refused for good (500/501, 550-554): do not retry
    std::string error;       // why not delivered: transport/server words, never the body
    // The server could not be reached or used at all (connect, TLS, AUTH,
    // 421): other messages would fail the same way, so the pass stops here.
    bool server_unavailable = false;
  };
  virtual ~SmtpTransport() = default;
  // Sends `eml` from `from` to `to` (addr-specs). Gives up after `budget`, or as
  // soon as `abort` turns true (checked while the transfer runs).
  [[nodiscard]] virtual Outcome deliver(std::string_view from, std::string_view to,
                                        std::string_view eml, std::chrono::milliseconds budget,
                                        const std::atomic<bool>& abort) = 0;
};

struct SmtpSettings {
  std::string url;  // smtp://host[:port] (STARTTLS) or smtps://host[:port] (implicit TLS)
  bool require_tls =
      true;          // smtp://: refuse to send unless STARTTLS succeeds (smtps:// is always TLS)
  std::string user;  // "" = no AUTH
  SecretString password;
  std::chrono::seconds timeout{30};          // a whole attempt
  std::chrono::seconds connect_timeout{10};  // the TCP + TLS connect part (at most `timeout`)
};

// The libcurl transport: certificate and host name verified, only the smtp and
// smtps protocols, no signals, the AUTH mechanism negotiated by libcurl.
[[nodiscard]] std::unique_ptr<SmtpTransport> make_curl_transport(SmtpSettings s);

struct SmtpMailerOptions {
  std::string spool_dir;                      // created 0700 if missing
  std::string from;                           // mail.from
  std::string message_id_host = "localhost";  // right-hand side of Message-IDs
  mail::RetryPolicy retry;                    // backoff and give-up
  std::chrono::seconds poll_interval{30};     // rescan for mail queued by other processes
  std::chrono::seconds orphan_age{
      3600};  // start() deletes crashed writers' leftovers older than this
};

class SmtpMailer final : public Mailer {
 public:
  // Errors: MailerError::SpoolUnwritable; mail::MailError::BadAddress for a bad `from`.
  [[nodiscard]] static Result<std::unique_ptr<SmtpMailer>> create(
      SmtpMailerOptions o, std::unique_ptr<SmtpTransport> transport, Clock& clock, Random& rng);
  ~SmtpMailer() override;
  SmtpMailer(const SmtpMailer&) = delete;
  SmtpMailer& operator=(const SmtpMailer&) = delete;

  [[nodiscard]] Status send(const MailMessage& m) override;
  [[nodiscard]] Result<std::string> send_tracked(const MailMessage& m) override;
  [[nodiscard]] DeliveryStatus status(const std::string& id) const override;
  [[nodiscard]] std::size_t pending() const override;

  // Cleans orphans and starts the sender thread (its first pass delivers what
  // the spool holds). REQUIRES: not started.
  void start();
  // Bounded drain, then joins the thread. Idempotent; the destructor calls stop(5 s).
  void stop(std::chrono::milliseconds bound) override;

  struct PassStats {
    int delivered = 0;
    int retrying = 0;                 // failed, retry scheduled
    int failed = 0;                   // given up, moved to failed/
    int busy = 0;                     // due but claimed by another sender
    bool server_unavailable = false;  // the pass stopped early: the server is down
    std::optional<Seconds> next_due;  // earliest future attempt left in the spool
  };
  // One pass over the spool at clock.now(): every due message is attempted
  // once. The sender thread runs this on each wake-up; tests call it directly
  // (without start()) and move a FakeClock between passes.
  PassStats run_pass();

 private:
  SmtpMailer(SmtpMailerOptions o, Spool spool, std::unique_ptr<SmtpTransport> t, Clock& clock,
             Random& rng);
  void run();
  // The time left for a transfer: the configured budget, or less while draining.
  [[nodiscard]] std::chrono::milliseconds transfer_budget();

  const SmtpMailerOptions opt_;
  const Spool spool_;
  const std::unique_ptr<SmtpTransport> transport_;
  Clock& clock_;
  Random& rng_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;      // GUARDED_BY(mu_): new mail was queued
  bool stopping_ = false;  // GUARDED_BY(mu_)
  bool exited_ = false;    // GUARDED_BY(mu_): the thread left its loop
  std::optional<std::chrono::steady_clock::time_point> drain_deadline_;  // GUARDED_BY(mu_)
  std::atomic<bool> abort_{false};  // aborts a transfer in flight (stop() past its bound)
  std::thread thread_;
};

}  // namespace gh::service
