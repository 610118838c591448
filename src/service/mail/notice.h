// Notices: mails that create no token (there is no link row to count), such as "you already
// have an account" or "someone got past your password". Each kind is bounded per account and
// hour by its own audit rows, so a stranger cannot use them to flood someone's mailbox.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/base/clock.h"
#include "core/base/result.h"
#include "service/common/audit.h"
#include "service/mail/mailer.h"

namespace gh::service {

// Where a notice's limit is counted and its outcome recorded.
struct NoticeLog {
  store::AuditStore& rows;  // read: earlier notices (under_notice_limit)
  AuditSink& sink;          // written: this one
  Clock& clock;
  std::int64_t per_hour;
};

// Mails `m` unless `subject` (a user id) already had `per_hour` audit events (action,
// sent_result) in the last hour; records (action, sent_result) when sent and (action,
// "throttled") when not, by `actor`. True if sent. Errors: StoreError reading the limit, the
// mailer's error (nothing recorded then: the caller decides how to report it).
[[nodiscard]] Result<bool> send_notice(const NoticeLog& log, Mailer& mailer, const MailMessage& m,
                                       std::string_view action, std::string_view sent_result,
                                       std::string_view actor, std::string_view subject,
                                       const RequestMeta& meta);

}  // namespace gh::service
