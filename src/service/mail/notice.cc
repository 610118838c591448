#include "service/mail/notice.h"

namespace gh::service {
namespace {

// True while `user_id` had fewer than `per_hour` audit events (action, result) in the hour
// before `now`. The audit log is written in the background, so the bound is approximate under
// a burst.
Result<bool> under_notice_limit(store::AuditStore& audit, std::string_view user_id,
                                std::string_view action, std::string_view result, Seconds now,
                                std::int64_t per_hour) {
  if (per_hour <= 0) return false;
  store::AuditQuery q;
  q.user = std::string(user_id);
  q.action = std::string(action);
  q.result = std::string(result);
  q.since = now - std::chrono::hours{1};
  q.limit = static_cast<std::size_t>(per_hour);
  auto rows = audit.query_audit(q);
  if (!rows) return fail(rows.error());
  return static_cast<std::int64_t>(rows->size()) < per_hour;
}

}  // namespace

Result<bool> send_notice(const NoticeLog& log, Mailer& mailer, const MailMessage& m,
                         std::string_view action, std::string_view sent_result,
                         std::string_view actor, std::string_view subject,
                         const RequestMeta& meta) {
  auto allowed =
      under_notice_limit(log.rows, subject, action, sent_result, log.clock.now(), log.per_hour);
  if (!allowed) return fail(allowed.error());
  const auto record = [&](std::string_view result) {
    log.sink.record(AuditEvent{std::string(action), std::string(result), std::string(actor),
                               std::string(subject), log.clock.now(), meta});
  };
  if (!*allowed) {
    record("throttled");
    return false;
  }
  if (auto sent = mailer.send(m); !sent) return fail(sent.error());
  record(sent_result);
  return true;
}

}  // namespace gh::service
