#include "service/mail/mailer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/mail/message.h"
#include "service/mail/memory_mailer.h"
#include "service/mail/outbox_mailer.h"
#include "service/mail/smtp_mailer.h"
#include "service/mail/spool.h"

namespace gh::service {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

constexpr const char* kFrom = "Gatehouse <no-reply@auth.example.com>";
constexpr const char* kSecret =
    "SECRET-LINK-7c1f";  // stands for a reset link: must never reach a log

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "gh-mail-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  [[nodiscard]] std::string str() const { return path_.string(); }
  [[nodiscard]] std::string sub(const std::string& s) const { return (path_ / s).string(); }

 private:
  fs::path path_;
};

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(dir, ec))
    if (de.is_regular_file()) out.push_back(de.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777U;
}

MailMessage reset_mail(const std::string& to = "ada@example.com") {
  return {to, "Reset your password",
          std::string("Open https://auth.example.com/reset-password#") + kSecret + "\n",
          std::string("<p><a href=\"https://auth.example.com/reset-password#") + kSecret +
              "\">Reset</a></p>"};
}

// Collects everything logged through spdlog's default logger while alive.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  [[nodiscard]] std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

// Scripted SMTP: answers with queued outcomes (default: delivered) and records calls.
class FakeTransport final : public SmtpTransport {
 public:
  struct Call {
    std::string from, to, eml;
  };
  Outcome deliver(std::string_view from, std::string_view to, std::string_view eml,
                  std::chrono::milliseconds, const std::atomic<bool>& abort) override {
    std::function<void()> during;
    Outcome o{true, false, ""};
    {
      std::lock_guard lock(mu);
      calls.push_back({std::string(from), std::string(to), std::string(eml)});
      if (!script.empty()) {
        o = script.front();
        script.pop_front();
      } else if (always) {
        o = *always;
      }
      during = during_delivery;
    }
    if (during) during();
    if (block_until_abort) {
      for (int i = 0; i < 1000 && !abort.load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
      if (abort.load()) return {false, false, "aborted"};
    }
    return o;
  }
  std::size_t call_count() {
    std::lock_guard lock(mu);
    return calls.size();
  }

  std::mutex mu;
  std::vector<Call> calls;
  std::deque<Outcome> script;
  std::optional<Outcome> always;
  std::function<void()> during_delivery;
  std::atomic<bool> block_until_abort{false};
};

struct SmtpFixture {
  explicit SmtpFixture(const std::string& dir, FakeClock& clock) : transport(new FakeTransport) {
    SmtpMailerOptions o;
    o.spool_dir = dir;
    o.from = kFrom;
    o.message_id_host = "auth.example.com";
    auto m =
        SmtpMailer::create(std::move(o), std::unique_ptr<SmtpTransport>(transport), clock, rng);
    EXPECT_TRUE(m) << m.error().message();
    mailer = std::move(*m);
  }
  SystemRandom rng;
  FakeTransport* transport;  // owned by mailer
  std::unique_ptr<SmtpMailer> mailer;
};

// --- OutboxDirMailer ----------------------------------------------------

TEST(OutboxDirMailer, WritesOneEmlFileMode0600Atomically) {
  TempDir tmp;
  FakeClock clock;
  SystemRandom rng;
  auto m = OutboxDirMailer::create(tmp.sub("outbox"), kFrom, "auth.example.com", clock, rng);
  ASSERT_TRUE(m) << m.error().message();
  auto id = (*m)->send_tracked(reset_mail());
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(files_in(tmp.sub("outbox")),
            std::vector<std::string>{*id + ".eml"});  // no temporary left behind
  EXPECT_EQ(mode_of(tmp.sub("outbox")), 0700U);
  const auto path = tmp.sub("outbox/" + *id + ".eml");
  EXPECT_EQ(mode_of(path), 0600U);
  const auto eml = slurp(path);
  EXPECT_TRUE(
      eml.starts_with("From: Gatehouse <no-reply@auth.example.com>\r\nTo: ada@example.com\r\n"))
      << eml;
  EXPECT_NE(eml.find("Subject: Reset your password\r\n"), std::string::npos);
  EXPECT_NE(eml.find("Date: Sun, 17 Mar 2030 17:46:40 +0000\r\n"), std::string::npos);
  EXPECT_NE(eml.find("@auth.example.com>\r\nMIME-Version: 1.0\r\n"), std::string::npos);
  EXPECT_NE(eml.find("multipart/alternative"), std::string::npos);
  const auto st = (*m)->status(*id);
  EXPECT_EQ(st.state, DeliveryState::Delivered);
  EXPECT_EQ(st.file, path);
  EXPECT_EQ((*m)->status("../../etc/passwd").state, DeliveryState::Unknown);
}

TEST(OutboxDirMailer, FileNamesSortByTimeThenSequence) {
  TempDir tmp;
  FakeClock clock;
  SystemRandom rng;
  auto m = OutboxDirMailer::create(tmp.str(), kFrom, "localhost", clock, rng);
  ASSERT_TRUE(m);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(*(*m)->send_tracked(reset_mail()));
    if (i % 2 == 1) clock.advance(seconds{1});
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(files_in(tmp.str()).size(), 5U);
  EXPECT_TRUE(ids[0].starts_with("20300317T174640Z-")) << ids[0];
  for (const auto& id : ids) EXPECT_TRUE(valid_mail_id(id)) << id;
}

TEST(OutboxDirMailer, HeaderInjectionStoresNothing) {
  TempDir tmp;
  FakeClock clock;
  SystemRandom rng;
  auto m = OutboxDirMailer::create(tmp.str(), kFrom, "localhost", clock, rng);
  ASSERT_TRUE(m);
  auto bad = reset_mail();
  bad.subject = "Hello\r\nBcc: eve@attacker.test";
  auto st = (*m)->send(bad);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, make_error_code(mail::MailError::HeaderInjection));
  bad = reset_mail("ada@example.com\nBcc: eve@attacker.test");
  EXPECT_EQ((*m)->send(bad).error().code, make_error_code(mail::MailError::HeaderInjection));
  EXPECT_EQ((*m)->send(reset_mail("ada@example.com, eve@attacker.test")).error().code,
            make_error_code(mail::MailError::BadAddress));
  EXPECT_TRUE(files_in(tmp.str()).empty());
}

TEST(OutboxDirMailer, SpoolUnwritable) {
  TempDir tmp;
  std::ofstream(tmp.sub("file")) << "x";
  FakeClock clock;
  SystemRandom rng;
  auto m = OutboxDirMailer::create(tmp.sub("file/outbox"), kFrom, "localhost", clock, rng);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, make_error_code(MailerError::SpoolUnwritable));
}

// --- SmtpMailer: spool and retries (FakeClock, passes run by hand) ----------

TEST(SmtpMailer, SendSpoolsDurablyWithoutTouchingTheNetwork) {
  TempDir tmp;
  FakeClock clock;
  SmtpFixture f(tmp.str(), clock);
  auto id = f.mailer->send_tracked(reset_mail());
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(f.transport->call_count(), 0U);
  EXPECT_EQ(files_in(tmp.str()), (std::vector<std::string>{*id + ".eml", *id + ".json"}));
  EXPECT_EQ(mode_of(tmp.sub(*id + ".eml")), 0600U);
  EXPECT_EQ(mode_of(tmp.sub(*id + ".json")), 0600U);
  EXPECT_EQ(mode_of(tmp.str()), 0700U);
  const auto meta = slurp(tmp.sub(*id + ".json"));
  EXPECT_EQ(meta.find(kSecret), std::string::npos) << "metadata holds no body";
  auto e = parse_spool_entry(meta);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->to, "ada@example.com");
  EXPECT_EQ(e->from, "no-reply@auth.example.com");
  EXPECT_EQ(e->attempts, 0);
  EXPECT_EQ(e->next_attempt_at, clock.now());
  EXPECT_EQ(f.mailer->pending(), 1U);
  EXPECT_EQ(f.mailer->status(*id).state, DeliveryState::Queued);
}

TEST(SmtpMailer, DeliversAndRemoves) {
  TempDir tmp;
  FakeClock clock;
  SmtpFixture f(tmp.str(), clock);
  auto id = f.mailer->send_tracked(reset_mail());
  ASSERT_TRUE(id);
  const auto spooled = slurp(tmp.sub(*id + ".eml"));
  const auto stats = f.mailer->run_pass();
  EXPECT_EQ(stats.delivered, 1);
  ASSERT_EQ(f.transport->calls.size(), 1U);
  EXPECT_EQ(f.transport->calls[0].from, "no-reply@auth.example.com");
  EXPECT_EQ(f.transport->calls[0].to, "ada@example.com");
  EXPECT_EQ(f.transport->calls[0].eml, spooled);
  EXPECT_TRUE(files_in(tmp.str()).empty());
  EXPECT_EQ(f.mailer->pending(), 0U);
  EXPECT_EQ(f.mailer->status(*id).state, DeliveryState::Delivered);
  EXPECT_EQ(f.mailer->run_pass().delivered, 0);  // nothing twice
  EXPECT_EQ(f.transport->call_count(), 1U);
}

TEST(SmtpMailer, TemporaryFailuresBackOffExponentially) {
  TempDir tmp;
  FakeClock clock;
  SmtpFixture f(tmp.str(), clock);
  f.transport->always = SmtpTransport::Outcome{false, false, "Couldn't connect to server"};
  auto id = f.mailer->send_tracked(reset_mail());
  ASSERT_TRUE(id);
  const Seconds t0 = clock.now();
  auto s = f.mailer->run_pass();
  EXPECT_EQ(s.retrying, 1);
  EXPECT_EQ(s.next_due, t0 + seconds{5});
  auto st = f.mailer->status(*id);
  EXPECT_EQ(st.state, DeliveryState::Queued);
  EXPECT_EQ(st.attempts, 1);
  EXPECT_EQ(st.last_error, "Couldn't connect to server");
  // Not before it is due.
  clock.advance(seconds{4});
  EXPECT_EQ(f.mailer->run_pass().retrying, 0);
  EXPECT_EQ(f.transport->call_count(), 1U);
  // Then 5, 10, 20, 40 s apart.
  Seconds expected = t0 + seconds{5};
  for (int gap : {10, 20, 40, 80}) {
    clock.set(expected);
    s = f.mailer->run_pass();
    EXPECT_EQ(s.retrying, 1);
    expected += seconds{gap};
    EXPECT_EQ(s.next_due, expected);
  }
  EXPECT_EQ(f.mailer->status(*id).attempts, 5);
  // Success on the next try removes it.
  f.transport->always.reset();
  clock.set(expected);
  EXPECT_EQ(f.mailer->run_pass().delivered, 1);
  EXPECT_EQ(f.mailer->pending(), 0U);
}

TEST(SmtpMailer, GivesUpAfterADayAndKeepsTheMessageInFailed) {
  TempDir tmp;
  FakeClock clock;
  LogCapture logs;
  SmtpFixture f(tmp.str(), clock);
  f.transport->always = SmtpTransport::Outcome{false, false, "421 try later (last SMTP reply 421)"};
  auto id = f.mailer->send_tracked(reset_mail());
  ASSERT_TRUE(id);
  const Seconds t0 = clock.now();
  int passes = 0;
  for (;;) {
    auto s = f.mailer->run_pass();
    ++passes;
    if (s.failed == 1 || !s.next_due || passes > 1000) break;
    clock.set(*s.next_due);
  }
  EXPECT_EQ(clock.now(), t0 + seconds{24 * 3600});
  EXPECT_EQ(f.mailer->pending(), 0U);
  const auto st = f.mailer->status(*id);
  EXPECT_EQ(st.state, DeliveryState::Failed);
  EXPECT_EQ(st.attempts, static_cast<int>(f.transport->call_count()));
  EXPECT_EQ(st.file, tmp.sub("failed/" + *id + ".eml"));
  EXPECT_EQ(files_in(tmp.sub("failed")), (std::vector<std::string>{*id + ".eml", *id + ".json"}));
  EXPECT_NE(slurp(st.file).find(kSecret), std::string::npos)
      << "the message is kept for the operator";
  EXPECT_TRUE(files_in(tmp.str()).empty());
  const auto text = logs.text();
  EXPECT_NE(text.find(*id), std::string::npos);
  EXPECT_NE(text.find("failed after"), std::string::npos);
  EXPECT_NE(text.find("421 try later"), std::string::npos);
  EXPECT_EQ(text.find(kSecret), std::string::npos) << "no body in the logs";
  EXPECT_EQ(text.find("Reset your password"), std::string::npos) << "no subject in the logs";
}

TEST(SmtpMailer, PermanentRefusalFailsAtOnce) {
  TempDir tmp;
  FakeClock clock;
  SmtpFixture f(tmp.str(), clock);
  f.transport->script.push_back({false, true, "550 no such user (last SMTP reply 550)"});
  auto id = f.mailer->send_tracked(reset_mail());
  ASSERT_TRUE(id);
  EXPECT_EQ(f.mailer->run_pass().failed, 1);
  const auto st = f.mailer->status(*id);
  EXPECT_EQ(st.state, DeliveryState::Failed);
  EXPECT_EQ(st.attempts, 1);
  EXPECT_EQ(st.last_error, "550 no such user (last SMTP reply 550)");
}

TEST(SmtpMailer, RestartPicksUpTheSpoolOldestFirst) {
  TempDir tmp;
  FakeClock clock;
  std::vector<std::string> ids;
  {
    SmtpFixture before(tmp.str(), clock);
    for (const char* to : {"a@example.com", "b@example.com", "c@example.com"}) {
      ids.push_back(*before.mailer->send_tracked(reset_mail(to)));
      clock.advance(seconds{1});
    }
    before.transport->always = SmtpTransport::Outcome{false, false, "down"};
    EXPECT_EQ(before.mailer->run_pass().retrying, 3);
  }  // "crash": the process is gone, the spool stays
  SmtpFixture after(tmp.str(), clock);
  EXPECT_EQ(after.mailer->pending(), 3U);
  clock.advance(seconds{5});
  EXPECT_EQ(after.mailer->run_pass().delivered, 3);
  ASSERT_EQ(after.transport->calls.size(), 3U);
  EXPECT_EQ(after.transport->calls[0].to, "a@example.com");
  EXPECT_EQ(after.transport->calls[1].to, "b@example.com");
  EXPECT_EQ(after.transport->calls[2].to, "c@example.com");
  for (const auto& id : ids) EXPECT_EQ(after.mailer->status(id).state, DeliveryState::Delivered);
}

TEST(SmtpMailer, ServerDownOnlyTheOldestIsTriedUntilItComesBack) {
  TempDir tmp;
  FakeClock clock;
  SmtpFixture f(tmp.str(), clock);
  for (const char* to : {"a@example.com", "b@example.com", "c@example.com"})
    ASSERT_TRUE(f.mailer->send(reset_mail(to)));
  SmtpTransport::Outcome down{false, false, "Couldn't connect to server", true};
  f.transport->always = down;
  const Seconds t0 = clock.now();
  auto s = f.mailer->run_pass();
  EXPECT_TRUE(s.server_unavailable);
  EXPECT_EQ(s.retrying, 1);
  EXPECT_EQ(f.transport->call_count(), 1U) << "one connection attempt, not one per message";
  EXPECT_EQ(s.next_due, t0 + seconds{5});
  clock.set(t0 + seconds{5});
  s = f.mailer->run_pass();
  EXPECT_EQ(f.transport->call_count(), 2U);
  EXPECT_EQ(f.transport->calls[1].to, "a@example.com");
  EXPECT_EQ(s.next_due, t0 + seconds{15});
  // Back up: the oldest goes first, then the rest in the same pass.
  f.transport->always.reset();
  clock.set(t0 + seconds{15});
  EXPECT_EQ(f.mailer->run_pass().delivered, 3);
  ASSERT_EQ(f.transport->calls.size(), 5U);
  EXPECT_EQ(f.transport->calls[2].to, "a@example.com");
  EXPECT_EQ(f.transport->calls[3].to, "b@example.com");
  EXPECT_EQ(f.transport->calls[4].to, "c@example.com");
}

TEST(SmtpMailer, TwoSendersOnOneSpoolDeliverEachMessageOnce) {
  TempDir tmp;
  FakeClock clock;
  SmtpFixture a(tmp.str(), clock);
  SmtpFixture b(tmp.str(), clock);
  ASSERT_TRUE(a.mailer->send(reset_mail()));
  // While A is in the middle of the SMTP transaction, B runs a pass: the message is claimed.
  SmtpMailer::PassStats seen_by_b;
  a.transport->during_delivery = [&] { seen_by_b = b.mailer->run_pass(); };
  EXPECT_EQ(a.mailer->run_pass().delivered, 1);
  EXPECT_EQ(seen_by_b.busy, 1);
  EXPECT_EQ(seen_by_b.delivered, 0);
  EXPECT_EQ(b.transport->call_count(), 0U);
  EXPECT_EQ(b.mailer->run_pass().delivered, 0);  // and afterwards it is gone
}

TEST(SmtpMailer, RescheduledBehindAClaimIsNotResent) {
  // B claims an old inode after A rescheduled the message: B must see the new schedule.
  TempDir tmp;
  FakeClock clock;
  SmtpFixture a(tmp.str(), clock);
  SmtpFixture b(tmp.str(), clock);
  ASSERT_TRUE(a.mailer->send(reset_mail()));
  a.transport->always = SmtpTransport::Outcome{false, false, "down"};
  EXPECT_EQ(a.mailer->run_pass().retrying, 1);
  EXPECT_EQ(b.mailer->run_pass().retrying, 0);
  EXPECT_EQ(b.transport->call_count(), 0U);
}

TEST(SmtpMailer, MissingMessageFileIsMovedToFailed) {
  TempDir tmp;
  FakeClock clock;
  SmtpFixture f(tmp.str(), clock);
  auto id = f.mailer->send_tracked(reset_mail());
  ASSERT_TRUE(id);
  fs::remove(tmp.sub(*id + ".eml"));
  f.mailer->run_pass();
  EXPECT_EQ(f.transport->call_count(), 0U);
  EXPECT_EQ(f.mailer->status(*id).state, DeliveryState::Failed);
  EXPECT_EQ(f.mailer->pending(), 0U);
}

TEST(SmtpMailer, StartRemovesOnlyOldOrphans) {
  TempDir tmp;
  FakeClock clock;
  SmtpFixture f(tmp.str(), clock);
  const std::string orphan = "20300101T000000Z-000001-0011223344556677.eml";
  for (const auto& name : {std::string(".tmp-old"), orphan, std::string(".tmp-young")})
    std::ofstream(tmp.sub(name)) << "x";
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours{2};
  fs::last_write_time(tmp.sub(".tmp-old"), old);
  fs::last_write_time(tmp.sub(orphan), old);
  f.mailer->start();
  f.mailer->stop(std::chrono::seconds{1});
  EXPECT_EQ(files_in(tmp.str()), std::vector<std::string>{".tmp-young"});
}

// --- SmtpMailer: the sender thread ---------------------------------------

bool wait_until(const std::function<bool()>& ok,
                std::chrono::milliseconds bound = std::chrono::seconds{10}) {
  const auto end = std::chrono::steady_clock::now() + bound;
  while (!ok() && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  return ok();
}

TEST(SmtpMailerThread, StartDeliversWhatTheSpoolHoldsAndSendWakesIt) {
  TempDir tmp;
  FakeClock clock;
  {
    SmtpFixture before(tmp.str(), clock);
    ASSERT_TRUE(before.mailer->send(reset_mail("early@example.com")));
  }
  SmtpFixture f(tmp.str(), clock);
  f.mailer->start();
  EXPECT_TRUE(wait_until([&] { return f.transport->call_count() == 1; }));
  ASSERT_TRUE(f.mailer->send(reset_mail("later@example.com")));
  EXPECT_TRUE(wait_until([&] { return f.transport->call_count() == 2; }))
      << "send() wakes the sender";
  EXPECT_TRUE(wait_until([&] { return f.mailer->pending() == 0; }));
  f.mailer->stop(std::chrono::seconds{1});
}

TEST(SmtpMailerThread, StopAbortsATransferAtTheBoundAndKeepsTheMessage) {
  TempDir tmp;
  FakeClock clock;
  SmtpFixture f(tmp.str(), clock);
  f.transport->block_until_abort = true;
  f.mailer->start();
  auto id = f.mailer->send_tracked(reset_mail());
  ASSERT_TRUE(id);
  ASSERT_TRUE(wait_until([&] { return f.transport->call_count() == 1; }));
  const auto t = std::chrono::steady_clock::now();
  f.mailer->stop(std::chrono::milliseconds{200});
  EXPECT_LT(std::chrono::steady_clock::now() - t, std::chrono::seconds{3});
  const auto st = f.mailer->status(*id);
  EXPECT_EQ(st.state, DeliveryState::Queued);
  EXPECT_EQ(st.last_error, "aborted");
  f.mailer->stop(std::chrono::milliseconds{200});  // idempotent
}

TEST(SmtpMailerThread, StopDeliversWhatIsDue) {
  TempDir tmp;
  FakeClock clock;
  SmtpFixture f(tmp.str(), clock);
  f.mailer->start();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.mailer->send(reset_mail()));
  f.mailer->stop(std::chrono::seconds{5});
  EXPECT_EQ(f.mailer->pending(), 0U);
  EXPECT_EQ(f.transport->call_count(), 3U);
}

// --- make_mailer and config -------------------------------------------------

Config config_in(const TempDir& tmp) {
  Config c;
  c.data_dir = tmp.str();
  c.public_url = "https://auth.example.com";
  return c;
}

TEST(MakeMailer, DefaultIsTheOutboxInTheDataDir) {
  TempDir tmp;
  auto m = make_mailer(config_in(tmp));
  ASSERT_TRUE(m) << m.error().message();
  auto* outbox = dynamic_cast<OutboxDirMailer*>(m->get());
  ASSERT_NE(outbox, nullptr);
  EXPECT_EQ(outbox->dir(), tmp.sub("outbox"));
  auto id = (*m)->send_tracked(reset_mail());
  ASSERT_TRUE(id);
  EXPECT_NE(slurp(tmp.sub("outbox/" + *id + ".eml")).find("@auth.example.com>\r\n"),
            std::string::npos);
}

TEST(MakeMailer, SmtpUsesTheSpoolDir) {
  TempDir tmp;
  auto c = config_in(tmp);
  c.mail_smtp_url = "smtp://127.0.0.1:1";  // nothing listens: the message stays queued
  c.mail_smtp_tls = "none";
  c.mail_spool_dir = tmp.sub("spool");
  auto m = make_mailer(c);
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_NE(dynamic_cast<SmtpMailer*>(m->get()), nullptr);
  auto id = (*m)->send_tracked(reset_mail());
  ASSERT_TRUE(id);
  EXPECT_TRUE(wait_until([&] { return (*m)->status(*id).attempts >= 1; }));
  const auto st = (*m)->status(*id);
  EXPECT_EQ(st.state, DeliveryState::Queued);
  EXPECT_FALSE(st.last_error.empty());
  (*m)->stop(std::chrono::seconds{1});
  EXPECT_TRUE(fs::exists(tmp.sub("spool/" + *id + ".eml")));
}

TEST(MakeMailer, BadConfig) {
  TempDir tmp;
  const std::vector<std::pair<std::string, std::function<void(Config&)>>> cases = {
      {"scheme", [](Config& c) { c.mail_smtp_url = "http://mail.example.com"; }},
      {"no scheme", [](Config& c) { c.mail_smtp_url = "mail.example.com:587"; }},
      {"credentials in url", [](Config& c) { c.mail_smtp_url = "smtp://u:p@mail.example.com"; }},
      {"tls value",
       [](Config& c) {
         c.mail_smtp_url = "smtp://mail.example.com";
         c.mail_smtp_tls = "maybe";
       }},
      {"clear text off loopback",
       [](Config& c) {
         c.mail_smtp_url = "smtp://mail.example.com:25";
         c.mail_smtp_tls = "none";
       }},
      {"from", [](Config& c) { c.mail_from = "not an address"; }},
      {"from injection", [](Config& c) { c.mail_from = "a@x.test\r\nBcc: e@x.test"; }},
  };
  for (const auto& [what, mutate] : cases) {
    auto c = config_in(tmp);
    mutate(c);
    auto m = make_mailer(c);
    ASSERT_FALSE(m) << what;
    EXPECT_EQ(m.error().code, make_error_code(MailerError::BadConfig)) << what;
  }
  auto ok = config_in(tmp);
  ok.mail_smtp_url = "smtps://mail.example.com:465";
  EXPECT_TRUE(make_mailer(ok));
}

TEST(MailConfig, KeysDefaultsAndRedaction) {
  auto c = load_config("",
                       {{"mail.smtp_url", "smtp://mail.example.com:587"},
                        {"mail.smtp_password", "hunter2-pw"},
                        {"mail.timeout_s", "12"}},
                       nullptr);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->mail_from, "Gatehouse <no-reply@localhost>");
  EXPECT_EQ(c->mail_smtp_tls, "required");
  EXPECT_EQ(c->mail_timeout_s, 12);
  const auto text = describe_config(*c);
  EXPECT_NE(text.find("mail.smtp_password = \"<redacted>\""), std::string::npos);
  EXPECT_EQ(text.find("hunter2-pw"), std::string::npos);
  EXPECT_NE(text.find("mail.smtp_url = \"smtp://mail.example.com:587\""), std::string::npos);
  EXPECT_FALSE(load_config("", {{"mail.timeout_s", "0"}}, nullptr));
}

TEST(MailIds, MessageIdHost) {
  EXPECT_EQ(message_id_host("https://auth.example.com"), "auth.example.com");
  EXPECT_EQ(message_id_host("https://Auth.Example.com:8443/base/"), "auth.example.com");
  EXPECT_EQ(message_id_host("http://127.0.0.1:8080"), "127.0.0.1");
  EXPECT_EQ(message_id_host("http://[::1]:8080"), "[::1]");
  EXPECT_EQ(message_id_host(""), "localhost");
  EXPECT_EQ(message_id_host("http://bad_host!/"), "localhost");
}

TEST(MailIds, Valid) {
  SystemRandom rng;
  const auto id = new_mail_id(Seconds{std::chrono::seconds{1'900'000'000}}, rng);
  EXPECT_TRUE(valid_mail_id(id)) << id;
  EXPECT_FALSE(valid_mail_id("../" + id.substr(3)));
  EXPECT_FALSE(valid_mail_id(""));
  EXPECT_FALSE(valid_mail_id(id + "x"));
}

TEST(MemoryMailer, RecordsAndValidatesLikeTheRealOnes) {
  MemoryMailer m;
  ASSERT_TRUE(m.send(reset_mail()));
  auto bad = reset_mail();
  bad.subject = "x\nBcc: e@x.test";
  EXPECT_EQ(m.send(bad).error().code, make_error_code(mail::MailError::HeaderInjection));
  m.fail_next(Error{make_error_code(MailerError::SpoolUnwritable), "disk full"});
  EXPECT_FALSE(m.send(reset_mail()));
  EXPECT_EQ(m.sent().size(), 1U);
  ASSERT_TRUE(m.last_to("ada@example.com"));
  EXPECT_NE(m.last_to("ada@example.com")->text.find(kSecret), std::string::npos);
}

}  // namespace
}  // namespace gh::service
