// OutboxDirMailer: the zero-setup mail backend. Each message becomes one .eml
// file (RFC 5322, CRLF) in a directory, default <data_dir>/outbox: written to a
// temporary name, fsync'd, renamed, mode 0600 (it holds live reset links), the
// directory 0700. File names sort by time: "<UTC time>-<sequence>-<random>.eml".
// Any mail client opens them; nothing is ever sent over the network.
//
// Thread-safety: send/status from any thread.
#pragma once

#include <memory>
#include <string>

#include "core/base/clock.h"
#include "core/base/random.h"
#include "service/mail/mailer.h"

namespace gh::service {

class OutboxDirMailer final : public Mailer {
 public:
  // Creates `dir` (0700) if missing. Errors: MailerError::SpoolUnwritable;
  // mail::MailError::BadAddress for a bad `from`.
  [[nodiscard]] static Result<std::unique_ptr<OutboxDirMailer>> create(std::string dir,
                                                                       std::string from,
                                                                       std::string message_id_host,
                                                                       Clock& clock, Random& rng);

  [[nodiscard]] Status send(const MailMessage& m) override;
  // The id is the file name without ".eml".
  [[nodiscard]] Result<std::string> send_tracked(const MailMessage& m) override;
  // Delivered (with `file`) once written; Unknown otherwise.
  [[nodiscard]] DeliveryStatus status(const std::string& id) const override;

  [[nodiscard]] const std::string& dir() const { return dir_; }

 private:
  OutboxDirMailer(std::string dir, std::string from, std::string host, Clock& clock, Random& rng)
      : dir_(std::move(dir)),
        from_(std::move(from)),
        host_(std::move(host)),
        clock_(clock),
        rng_(rng) {}
  const std::string dir_;
  const std::string from_;
  const std::string host_;
  Clock& clock_;
  Random& rng_;
};

}  // namespace gh::service
