#include "service/mail/smtp_mailer.h"

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include "core/mail/message.h"

namespace gh::service {

Result<std::unique_ptr<SmtpMailer>> SmtpMailer::create(SmtpMailerOptions o,
                                                       std::unique_ptr<SmtpTransport> transport,
                                                       Clock& clock, Random& rng) {
  if (auto f = mail::parse_mailbox(o.from); !f) return fail(f.error());
  auto spool = Spool::open(o.spool_dir);
  if (!spool) return fail(spool.error());
  return std::unique_ptr<SmtpMailer>(
      new SmtpMailer(std::move(o), std::move(*spool), std::move(transport), clock, rng));
}

SmtpMailer::SmtpMailer(SmtpMailerOptions o, Spool spool, std::unique_ptr<SmtpTransport> t,
                       Clock& clock, Random& rng)
    : opt_(std::move(o)),
      spool_(std::move(spool)),
      transport_(std::move(t)),
      clock_(clock),
      rng_(rng) {}

SmtpMailer::~SmtpMailer() { stop(std::chrono::seconds{5}); }

Status SmtpMailer::send(const MailMessage& m) {
  auto id = send_tracked(m);
  if (!id) return fail(id.error());
  return {};
}

Result<std::string> SmtpMailer::send_tracked(const MailMessage& m) {
  const Seconds now = clock_.now();
  auto mail = compose_mail(m, opt_.from, opt_.message_id_host, now, rng_);
  if (!mail) return fail(mail.error());
  SpoolEntry e;
  e.id = new_mail_id(now, rng_);
  e.from = mail->envelope_from;
  e.to = mail->envelope_to;
  e.queued_at = now;
  e.next_attempt_at = now;
  auto added = spool_.add(e, mail->eml);
  wipe(mail->eml);
  if (!added) return fail(added.error());
  spdlog::info("mail {} to {} queued", e.id, e.to);
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_one();
  return e.id;
}

DeliveryStatus SmtpMailer::status(const std::string& id) const {
  DeliveryStatus s;
  if (!valid_mail_id(id)) return s;
  if (auto e = spool_.read(id)) {
    s.state = DeliveryState::Queued;
    s.attempts = e->attempts;
    s.last_error = e->last_error;
    s.file = spool_.eml_path(id);
  } else if (auto f = spool_.read_failed(id)) {
    s.state = DeliveryState::Failed;
    s.attempts = f->attempts;
    s.last_error = f->last_error;
    s.file = spool_.failed_eml_path(id);
  } else {
    // A valid id that is neither queued nor failed: the sender delivered and removed it.
    s.state = DeliveryState::Delivered;
  }
  return s;
}

std::size_t SmtpMailer::pending() const { return spool_.ids().size(); }

std::chrono::milliseconds SmtpMailer::transfer_budget() {
  std::lock_guard lock(mu_);
  if (!drain_deadline_)
    return std::chrono::milliseconds::max();  // the transport's own timeout applies
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      *drain_deadline_ - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds{0});
}

SmtpMailer::PassStats SmtpMailer::run_pass() {
  PassStats stats;
  const auto note_due = [&](Seconds t) {
    if (!stats.next_due || t < *stats.next_due) stats.next_due = t;
  };
  for (const auto& id : spool_.ids()) {
    if (abort_.load()) break;
    const Seconds now = clock_.now();
    if (auto peek = spool_.read(id); !peek || peek->next_attempt_at > now) {
      if (peek) note_due(peek->next_attempt_at);
      continue;
    }
    auto claim = spool_.try_claim(id);
    if (!claim) {
      ++stats.busy;
      continue;
    }
    auto e = spool_.read(id);  // fresh, under the claim
    if (!e) continue;
    if (e->next_attempt_at > now) {
      note_due(e->next_attempt_at);
      continue;
    }
    const auto budget = transfer_budget();
    if (budget.count() == 0) break;  // draining and out of time: leave the rest queued, untouched
    auto eml = spool_.message(*claim);
    if (!eml) {
      // Crash between the two steps of move_to_failed(), or someone deleted the file.
      struct stat st {};
      if (::stat(spool_.failed_eml_path(id).c_str(), &st) != 0) {
        e->last_error = "the message file is missing from the spool";
        spdlog::error("mail {} to {}: {}", id, e->to, e->last_error);
        if (auto ok = spool_.move_to_failed(*claim, *e); !ok)
          spdlog::error("mail spool: {}", ok.error().message());
      } else if (auto ok = spool_.remove(*claim); !ok) {
        spdlog::error("mail spool: {}", ok.error().message());
      }
      continue;
    }
    const auto outcome = transport_->deliver(e->from, e->to, *eml, budget, abort_);
    wipe(*eml);
    ++e->attempts;
    if (outcome.delivered) {
      if (auto ok = spool_.remove(*claim); !ok) {
        // Delivered but still spooled: it will be sent again (at-least-once).
        spdlog::error("mail {} delivered but not removed from the spool: {}", id,
                      ok.error().message());
      }
      spdlog::info("mail {} to {} delivered (attempt {})", id, e->to, e->attempts);
      ++stats.delivered;
      continue;
    }
    e->last_error = outcome.error;
    const auto step =
        mail::after_failure(opt_.retry, e->attempts, e->queued_at, clock_.now(), outcome.permanent);
    if (step.give_up) {
      spdlog::error("mail {} to {} failed after {} attempt(s), moved to {}/failed: {}", id, e->to,
                    e->attempts, spool_.dir(), e->last_error);
      if (auto ok = spool_.move_to_failed(*claim, *e); !ok)
        spdlog::error("mail spool: {}", ok.error().message());
      ++stats.failed;
    } else {
      e->next_attempt_at = step.next_attempt_at;
      spdlog::warn("mail {} to {}: attempt {} failed ({}); next attempt in {} s", id, e->to,
                   e->attempts, e->last_error, (step.next_attempt_at - clock_.now()).count());
      if (auto ok = spool_.update(*claim, *e); !ok)
        spdlog::error("mail spool: {}", ok.error().message());
      note_due(e->next_attempt_at);
      ++stats.retrying;
    }
    if (outcome.server_unavailable) {
      // The other due messages wait for this one's retry instead of each paying a timeout.
      stats.server_unavailable = true;
      break;
    }
  }
  return stats;
}

void SmtpMailer::start() {
  spool_.remove_orphans(opt_.orphan_age);
  if (const auto n = pending(); n > 0)
    spdlog::info("mail spool {}: {} message(s) waiting", spool_.dir(), n);
  thread_ = std::thread([this] { run(); });
}

void SmtpMailer::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_ = false;
    lock.unlock();
    const PassStats stats = run_pass();
    lock.lock();
    if (stopping_ || wake_) continue;
    // Sleep until the next retry is due (Clock time), at least 1 s so a message
    // claimed by another process is not spun on, at most poll_interval so mail
    // spooled by other processes is noticed.
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(opt_.poll_interval);
    if (stats.next_due) {
      const auto until =
          std::chrono::duration_cast<std::chrono::milliseconds>(*stats.next_due - clock_.now());
      wait = std::clamp(until, std::chrono::milliseconds{1000},
                        std::max(wait, std::chrono::milliseconds{1000}));
    } else if (stats.busy > 0) {
      wait = std::min(wait, std::chrono::milliseconds{1000});
    }
    cv_.wait_for(lock, wait, [&] { return stopping_ || wake_; });
  }
  // Drain: what is due now gets one attempt within the bound stop() set.
  lock.unlock();
  if (!abort_.load()) run_pass();
  lock.lock();
  exited_ = true;
  cv_.notify_all();
}

void SmtpMailer::stop(std::chrono::milliseconds bound) {
  std::unique_lock lock(mu_);
  if (!thread_.joinable()) return;
  const auto deadline = std::chrono::steady_clock::now() + bound;
  stopping_ = true;
  drain_deadline_ = deadline;
  cv_.notify_all();
  if (!cv_.wait_until(lock, deadline, [&] { return exited_; })) {
    abort_ = true;  // a transfer still running at the bound is cut; its message stays queued
    spdlog::warn("mail: stopping with deliveries in flight; they stay in the spool {}",
                 spool_.dir());
  }
  lock.unlock();
  thread_.join();
}

}  // namespace gh::service
