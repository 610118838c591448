// Mailer: how Gatehouse sends email (reset links, verification links,
// notifications). One interface, two backends, chosen by make_mailer():
//
//   mail.smtp_url = ""           OutboxDirMailer (service/mail/outbox_mailer.h): each
//                                message becomes one .eml file in <data_dir>/outbox.
//                                Zero setup; what `make run` uses.
//   mail.smtp_url = smtp(s)://   SmtpMailer (service/mail/smtp_mailer.h): a persistent
//                                spool in <data_dir>/mail-spool and one sender thread
//                                that delivers through libcurl, retrying with backoff.
//
// send() returns once the message is durably stored (fsync'd file, atomic
// rename): a crash or restart after it returns loses nothing. It never waits
// for the network, so it is safe on a worker thread that serves requests (it
// does block on local disk I/O: keep it off the Asio I/O threads). Delivery is
// at-least-once: a crash in the middle of an SMTP transaction can send a
// message twice, never zero times.
//
// Bodies carry secrets (reset and verification links): no Mailer logs a body,
// a subject or a link, at any level. Logs name the queue id and the recipient.
//
// Thread-safety: every Mailer is safe to use from many threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/base/clock.h"
#include "core/base/random.h"
#include "core/base/result.h"
#include "service/config.h"

namespace gh::service {

enum class MailerError : std::uint8_t {
  SpoolUnwritable =
      1,      // the outbox or spool directory cannot be created or written (permissions, disk full)
  BadConfig,  // a mail.* setting is invalid (the detail names it and says what to fix)
};
GH_DECLARE_ERROR_CATEGORY(MailerError)

// One transactional mail. From, Date and Message-ID are added by the Mailer.
struct MailMessage {
  std::string to;       // "user@example.com" or "Name <user@example.com>": exactly one recipient
  std::string subject;  // UTF-8; encoded as RFC 2047 words when not plain ASCII
  std::string text;     // plain-text body, UTF-8, required; "\n" or "\r\n" line ends both fine
  std::string html;     // optional HTML alternative, UTF-8; "" = text only
};

enum class DeliveryState : std::uint8_t {
  Unknown,    // not an id this mailer handed out (or unreadable)
  Queued,     // in the spool, waiting for its first attempt or a retry
  Delivered,  // handed over: accepted by the SMTP server, or written to the outbox directory
  Failed,     // given up (permanent refusal, or retries exhausted): kept in <spool>/failed/
};

struct DeliveryStatus {
  DeliveryState state = DeliveryState::Unknown;
  int attempts =
      0;  // SMTP attempts made so far (Queued, Failed; 0 once delivered: no record is kept)
  std::string last_error;  // the last attempt's error (transport/server words, never the body)
  std::string
      file;  // the .eml (outbox file, or the spooled/failed copy); "" once delivered by SMTP
};

class Mailer {
 public:
  virtual ~Mailer() = default;

  // Renders `m` (From from mail.from, a fresh Date and Message-ID) and stores it
  // durably for delivery. Errors: mail::MailError (HeaderInjection when a CR/LF
  // is in `to` or `subject`, BadAddress, InvalidEncoding, MissingText, TooLarge),
  // MailerError::SpoolUnwritable. On error nothing was stored.
  [[nodiscard]] virtual Status send(const MailMessage& m) = 0;

  // send(), returning the queue id that status() understands (a file name stem).
  // The default (for fakes) calls send() and returns "".
  [[nodiscard]] virtual Result<std::string> send_tracked(const MailMessage& m);

  // Where the message `id` stands. Default: Unknown.
  [[nodiscard]] virtual DeliveryStatus status(const std::string& id) const;

  // Messages still waiting for delivery (0 for backends without a queue).
  [[nodiscard]] virtual std::size_t pending() const { return 0; }

  // Stops background delivery: delivers what is due within `bound`, then
  // returns; anything left stays queued for the next start. Idempotent.
  virtual void stop(std::chrono::milliseconds bound) { (void)bound; }
};

// The mailer mail.* asks for, started (SMTP: its sender thread runs and has
// picked up whatever the spool held). Config must have been through
// finalize_config (public_url names the Message-ID host). `clock` and `rng`
// must outlive the mailer. Errors: MailerError::BadConfig (bad mail.from, a
// URL that is not smtp:// or smtps://, credentials in the URL, smtp_tls
// "none" for a host that is not loopback, ...), MailerError::SpoolUnwritable.
[[nodiscard]] Result<std::unique_ptr<Mailer>> make_mailer(const Config& c, Clock& clock,
                                                          Random& rng);
// Same, with the system clock and CSPRNG.
[[nodiscard]] Result<std::unique_ptr<Mailer>> make_mailer(const Config& c);

// --- Shared by the backends ---------------------------------------------

// What every backend stores: the rendered RFC 5322 bytes (CRLF) plus the
// envelope. The Message-ID is <random 128 bits>@`host`.
struct ComposedMail {
  std::string envelope_from;  // addr-spec of mail.from (SMTP MAIL FROM)
  std::string envelope_to;    // addr-spec of the recipient (SMTP RCPT TO)
  std::string eml;            // the message; wipe it after use (it holds links)
};
[[nodiscard]] Result<ComposedMail> compose_mail(const MailMessage& m, const std::string& from,
                                                const std::string& host, Seconds now, Random& rng);

// The host part of a public URL, usable as a Message-ID domain ("auth.example.com",
// "127.0.0.1", "[::1]"); "localhost" when there is none.
[[nodiscard]] std::string message_id_host(const std::string& public_url);

// A sortable, unique file stem: "20300317T174640Z-000042-9f2c4e1ab3d07c55" (UTC time,
// a per-process sequence, 64 random bits).
[[nodiscard]] std::string new_mail_id(Seconds now, Random& rng);

// True for ids new_mail_id() can produce (guards file names against traversal).
[[nodiscard]] bool valid_mail_id(const std::string& id);

// Writes `bytes` to dir/name durably: a temporary file (mode 0600, O_EXCL),
// fsync, rename over `name`, fsync of the directory. Readers never see a
// partial file. Errors: MailerError::SpoolUnwritable (detail: path and reason).
[[nodiscard]] Status write_file_durably(const std::string& dir, const std::string& name,
                                        std::string_view bytes);

// Creates `dir` (and parents) owner-only (0700) if missing. Errors: SpoolUnwritable.
[[nodiscard]] Status ensure_private_dir(const std::string& dir);

}  // namespace gh::service

template <>
struct std::is_error_code_enum<gh::service::MailerError> : std::true_type {};
