#include "service/mail/outbox_mailer.h"

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include "core/base/secret.h"
#include "core/mail/message.h"

namespace gh::service {

Result<std::unique_ptr<OutboxDirMailer>> OutboxDirMailer::create(std::string dir, std::string from,
                                                                 std::string message_id_host,
                                                                 Clock& clock, Random& rng) {
  if (auto f = mail::parse_mailbox(from); !f) return fail(f.error());
  if (auto ok = ensure_private_dir(dir); !ok) return fail(ok.error());
  return std::unique_ptr<OutboxDirMailer>(
      new OutboxDirMailer(std::move(dir), std::move(from), std::move(message_id_host), clock, rng));
}

Status OutboxDirMailer::send(const MailMessage& m) {
  auto id = send_tracked(m);
  if (!id) return fail(id.error());
  return {};
}

Result<std::string> OutboxDirMailer::send_tracked(const MailMessage& m) {
  const Seconds now = clock_.now();
  auto mail = compose_mail(m, from_, host_, now, rng_);
  if (!mail) return fail(mail.error());
  const std::string id = new_mail_id(now, rng_);
  auto written = write_file_durably(dir_, id + ".eml", mail->eml);
  wipe(mail->eml);
  if (!written) return fail(written.error());
  spdlog::info("mail {} to {} written to {}/{}.eml", id, mail->envelope_to, dir_, id);
  return id;
}

DeliveryStatus OutboxDirMailer::status(const std::string& id) const {
  DeliveryStatus s;
  if (!valid_mail_id(id)) return s;
  const std::string path = dir_ + "/" + id + ".eml";
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    s.state = DeliveryState::Delivered;
    s.file = path;
  }
  return s;
}

}  // namespace gh::service
