#include "service/mail/memory_mailer.h"

#include "core/base/clock.h"
#include "core/base/secret.h"

namespace gh::service {

Status MemoryMailer::send(const MailMessage& m) {
  std::lock_guard lock(mu_);
  if (fail_next_) {
    Error e = std::move(*fail_next_);
    fail_next_.reset();
    return fail(std::move(e));
  }
  // Same checks as the real backends (header injection, addresses, encoding).
  auto mail = compose_mail(m, from_, "localhost", Seconds{}, rng_);
  if (!mail) return fail(mail.error());
  wipe(mail->eml);
  sent_.push_back(m);
  return {};
}

std::vector<MailMessage> MemoryMailer::sent() const {
  std::lock_guard lock(mu_);
  return sent_;
}

std::optional<MailMessage> MemoryMailer::last_to(const std::string& to) const {
  std::lock_guard lock(mu_);
  for (auto it = sent_.rbegin(); it != sent_.rend(); ++it)
    if (it->to == to) return *it;
  return std::nullopt;
}

void MemoryMailer::clear() {
  std::lock_guard lock(mu_);
  sent_.clear();
}

void MemoryMailer::fail_next(Error e) {
  std::lock_guard lock(mu_);
  fail_next_ = std::move(e);
}

}  // namespace gh::service
