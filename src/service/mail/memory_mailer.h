// MemoryMailer: a Mailer for tests of the services that send mail. It renders
// each message exactly like the real backends (so a header injection or a bad
// address fails the same way) and keeps the MailMessage in memory.
//
// Thread-safety: all methods.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/base/random.h"
#include "service/mail/mailer.h"

namespace gh::service {

class MemoryMailer final : public Mailer {
 public:
  explicit MemoryMailer(std::string from = "Gatehouse <no-reply@localhost>")
      : from_(std::move(from)) {}

  [[nodiscard]] Status send(const MailMessage& m) override;

  // Everything accepted so far, oldest first.
  [[nodiscard]] std::vector<MailMessage> sent() const;
  // The last message to `to` (exact match on MailMessage::to), if any.
  [[nodiscard]] std::optional<MailMessage> last_to(const std::string& to) const;
  void clear();
  // The next send() returns `e` and stores nothing (e.g. a full disk).
  void fail_next(Error e);

 private:
  const std::string from_;
  mutable std::mutex mu_;
  std::vector<MailMessage> sent_;   // GUARDED_BY(mu_)
  std::optional<Error> fail_next_;  // GUARDED_BY(mu_)
  SystemRandom rng_;
};

}  // namespace gh::service
