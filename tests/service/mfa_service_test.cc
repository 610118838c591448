// MfaService over the memory store with a FakeClock: the policy, the
// challenge's lifetime and single use, enrolment reuse, lockout that a password
// success does not clear, recovery codes, and what is stored.
#include "service/mfa/mfa_service.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "core/totp/totp.h"
#include "service/accounts/accounts.h"
#include "service/mail/memory_mailer.h"
#include "service/tokens/token_service.h"

namespace gh::service {
namespace {

using std::chrono::seconds;

constexpr const char* kKek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

class RecordingAudit final : public AuditSink {
 public:
  void record(const AuditEvent& e) override {
    events.push_back(e);
    if (store != nullptr) {  // synchronously, so the notice limits (audit queries) see it
      store::AuditRecord r{0,         e.time,    e.action,          e.result,          e.actor,
                           e.subject, e.meta.ip, e.meta.user_agent, e.meta.request_id, e.tenant};
      EXPECT_TRUE(store->append_audit(std::span(&r, 1)));
    }
  }
  [[nodiscard]] std::size_t count(std::string_view action, std::string_view result) const {
    return static_cast<std::size_t>(std::ranges::count_if(
        events, [&](const AuditEvent& e) { return e.action == action && e.result == result; }));
  }
  store::AuditStore* store = nullptr;
  [[nodiscard]] bool has(std::string_view action, std::string_view result) const {
    for (const auto& e : events)
      if (e.action == action && e.result == result) return true;
    return false;
  }
  std::vector<AuditEvent> events;
};

class MfaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*store::open_store("memory://"));
    ASSERT_TRUE(store_->migrate());
    kek_.emplace(std::move(*crypto::Kek::from_base64url(kKek)));
    cfg_.code_hash_iterations = 1;
    cfg_.code_hash_memory_kib = 8 * 1024;
    audit_.store = &store_->audit();
    make();
    user_ = add_user("ada@example.com");
  }

  // The 8-digit code in the last enrolment-code mail to `u`.
  std::string mailed_code(const MemoryMailer& mail, const store::User& u) {
    auto m = mail.last_to(u.email);
    EXPECT_TRUE(m);
    if (!m) return {};
    EXPECT_EQ(m->subject, "Your code to set up two-step verification");
    const auto at = m->text.find("code: ");
    EXPECT_NE(at, std::string::npos);
    std::string digits;
    for (char ch : m->text.substr(at + 6, 9))
      if (ch >= '0' && ch <= '9') digits.push_back(ch);
    EXPECT_EQ(digits.size(), 8U);
    return digits;
  }

  void make() { svc_ = std::make_unique<MfaService>(*store_, *kek_, clock_, rng_, audit_, cfg_); }

  store::User add_user(std::string email) {
    store::User u;
    u.id = uuid_v4(rng_);
    u.email = email;
    u.email_normalized = email;
    u.created_at = u.updated_at = clock_.now();
    EXPECT_TRUE(store_->users().create_user(u));
    return u;
  }

  [[nodiscard]] std::int64_t now_unix() const { return clock_.now().time_since_epoch().count(); }

  // The code for `secret_b32` at now + offset seconds.
  [[nodiscard]] std::string code(const SecretString& secret_b32, std::int64_t offset = 0) const {
    auto raw = totp::base32_decode(secret_b32.expose());
    return totp::code_at(std::as_bytes(std::span(*raw)), now_unix() + offset);
  }

  // Enrols `u` and returns its secret (base32) and recovery codes.
  std::pair<SecretString, std::vector<std::string>> enrol(const store::User& u) {
    auto e = svc_->begin_enrolment(u, "flow-1", meta_);
    EXPECT_TRUE(e) << e.error().message();
    auto codes = svc_->confirm_enrolment(u, "flow-1", code(e->secret_base32), meta_);
    EXPECT_TRUE(codes) << codes.error().message();
    return {SecretString(std::string(e->secret_base32.expose())), *codes};
  }

  std::unique_ptr<store::Store> store_;
  std::optional<crypto::Kek> kek_;
  FakeClock clock_;
  SystemRandom rng_;
  RecordingAudit audit_;
  MfaConfig cfg_;
  RequestMeta meta_{"req-1", "192.0.2.7", "test"};
  std::unique_ptr<MfaService> svc_;
  store::User user_;
};

bool is(const Result<auto>& r, auto code) { return !r && r.error().code == make_error_code(code); }

TEST_F(MfaServiceTest, PolicyRolesTenantRolesPlatformAdminsAndEveryone) {
  EXPECT_FALSE(*svc_->required_for(user_));
  ASSERT_TRUE(store_->tenants().create_tenant({"t1", "One", clock_.now(), clock_.now()}));
  ASSERT_TRUE(store_->tenants().create_tenant({"t2", "Two", clock_.now(), clock_.now()}));
  ASSERT_TRUE(store_->tenants().add_member({"t1", user_.id, "member", clock_.now(), clock_.now()}));
  EXPECT_FALSE(*svc_->required_for(user_)) << "member is not in required_roles";
  auto other = add_user("bob@example.com");
  ASSERT_TRUE(store_->tenants().add_member({"t2", other.id, "admin", clock_.now(), clock_.now()}));
  EXPECT_TRUE(*svc_->required_for(other)) << "admin in any tenant";

  cfg_.required_roles = {"t1/member"};
  make();
  EXPECT_TRUE(*svc_->required_for(user_)) << "tenant-scoped rule";
  EXPECT_FALSE(*svc_->required_for(other)) << "admin no longer listed";

  cfg_.required_roles = {};
  make();
  auto root = add_user("root@example.com");
  ASSERT_TRUE(store_->tenants().set_platform_admin(root.id, true, clock_.now()));
  EXPECT_TRUE(*svc_->required_for(root));
  cfg_.required_for_platform_admins = false;
  make();
  EXPECT_FALSE(*svc_->required_for(root));
  cfg_.required_for_all = true;
  make();
  EXPECT_TRUE(*svc_->required_for(user_));
}

TEST_F(MfaServiceTest, NoChallengeWithoutFactorOrPolicyEnrollChallengeWhenRequired) {
  auto none = svc_->challenge_after_password(user_, meta_);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  cfg_.required_for_all = true;
  make();
  auto ch = svc_->challenge_after_password(user_, meta_);
  ASSERT_TRUE(ch && ch->has_value());
  EXPECT_EQ((*ch)->kind, ChallengeKind::Enroll);
  EXPECT_EQ((*ch)->token.expose().size(), 43U) << "256 random bits";
  // Only the hash is stored.
  EXPECT_TRUE(is(store_->one_time_tokens().find_token(
                     (*ch)->token.expose(), store::TokenPurpose::MfaChallenge, clock_.now()),
                 store::StoreError::NotFound));
}

TEST_F(MfaServiceTest, ChallengeExpiresAndIsSingleUse) {
  auto [secret, codes] = enrol(user_);
  auto ch = svc_->challenge_after_password(user_, meta_);
  ASSERT_TRUE(ch && ch->has_value());
  EXPECT_EQ((*ch)->kind, ChallengeKind::Verify);
  clock_.advance(cfg_.challenge_ttl);
  EXPECT_TRUE(is(svc_->complete_challenge((*ch)->token, {code(secret, 30), "", ""}, meta_),
                 MfaError::InvalidChallenge));

  auto ch2 = svc_->challenge_after_password(user_, meta_);
  auto done = svc_->complete_challenge((*ch2)->token, {code(secret, 0), "", ""}, meta_);
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(done->amr, kAmrTotp);
  EXPECT_EQ(done->user.id, user_.id);
  EXPECT_TRUE(is(svc_->complete_challenge((*ch2)->token, {code(secret, 30), "", ""}, meta_),
                 MfaError::InvalidChallenge));
}

TEST_F(MfaServiceTest, PendingEnrolmentIsReusedForAWhileThenReplaced) {
  auto a = svc_->begin_enrolment(user_, "flow-1", meta_);
  clock_.advance(seconds{60});
  auto b = svc_->begin_enrolment(user_, "flow-1", meta_);
  EXPECT_EQ(a->secret_base32.expose(), b->secret_base32.expose());
  EXPECT_FALSE(b->qr_svg.empty());
  clock_.advance(MfaService::kPendingReuse);
  auto c = svc_->begin_enrolment(user_, "flow-1", meta_);
  EXPECT_NE(a->secret_base32.expose(), c->secret_base32.expose());
  // The replaced secret no longer confirms.
  EXPECT_TRUE(is(svc_->confirm_enrolment(user_, "flow-1", code(a->secret_base32), meta_),
                 MfaError::InvalidCode));
  EXPECT_TRUE(svc_->confirm_enrolment(user_, "flow-1", code(c->secret_base32), meta_));
  EXPECT_TRUE(is(svc_->begin_enrolment(user_, "flow-1", meta_), MfaError::AlreadyEnrolled));
}

TEST_F(MfaServiceTest, APendingEnrolmentBelongsToTheFlowThatStartedIt) {
  // Someone else with the password starts an enrolment first (their flow)...
  auto planted = svc_->begin_enrolment(user_, "attacker-session", meta_);
  ASSERT_TRUE(planted);
  // ...the owner's own setup page gets a fresh secret, not the planted one,
  auto mine = svc_->begin_enrolment(user_, "owner-session", meta_);
  ASSERT_TRUE(mine);
  EXPECT_NE(mine->secret_base32.expose(), planted->secret_base32.expose());
  // and no flow can confirm an enrolment it did not start.
  EXPECT_TRUE(
      is(svc_->confirm_enrolment(user_, "attacker-session", code(mine->secret_base32), meta_),
         MfaError::NotEnrolled));
  EXPECT_TRUE(
      is(svc_->confirm_enrolment(user_, "attacker-session", code(planted->secret_base32), meta_),
         MfaError::NotEnrolled));
  EXPECT_TRUE(audit_.has("mfa.enrol", "other_flow"));
  EXPECT_TRUE(svc_->confirm_enrolment(user_, "owner-session", code(mine->secret_base32), meta_));
}

TEST_F(MfaServiceTest, StoredSecretIsSealedAndBoundToTheUser) {
  auto [secret, codes] = enrol(user_);
  auto row = store_->mfa().find_totp(user_.id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->secret_sealed.find(secret.expose()), std::string::npos);
  // The sealed box moved to another user does not open (AAD binds it).
  auto mallory = add_user("mallory@example.com");
  ASSERT_TRUE(
      store_->mfa().put_pending_totp({mallory.id, row->secret_sealed, false, 0, clock_.now(), {}}));
  EXPECT_FALSE(svc_->confirm_enrolment(mallory, "flow-1", code(secret), meta_));
}

TEST_F(MfaServiceTest, RecoveryCodesAreArgon2HashedSingleUseAndNormalised) {
  auto [secret, codes] = enrol(user_);
  ASSERT_EQ(codes.size(), 10U);
  std::set<std::string> unique(codes.begin(), codes.end());
  EXPECT_EQ(unique.size(), 10U);
  std::optional<std::int64_t> left;
  std::string typed = codes[3];
  std::erase(typed, '-');
  for (auto& ch : typed) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  auto amr = svc_->verify(user_, {"", typed, ""}, meta_);
  ASSERT_TRUE(amr) << amr.error().message();
  EXPECT_EQ(*amr, kAmrRecoveryCode);
  EXPECT_TRUE(audit_.has("mfa.recovery_code.used", "9_left"));
  EXPECT_TRUE(is(svc_->verify(user_, {"", codes[3], ""}, meta_), MfaError::InvalidCode));
  EXPECT_EQ(*store_->mfa().count_recovery_codes(user_.id), 9);

  EXPECT_FALSE(normalize_recovery_code("abcd-efgh-ijkl-mno"));
  EXPECT_FALSE(normalize_recovery_code("abcd-efgh-ijkl-mnop-q"));
  EXPECT_FALSE(normalize_recovery_code("abcd-efgh-ijkl-mn0p")) << "0 is not base32";
  EXPECT_EQ(*normalize_recovery_code(" ABCD efgh-IJKL mnop "), "abcdefghijklmnop");
}

TEST_F(MfaServiceTest, FailedCodesLockTheSecondFactorAndAPasswordSuccessDoesNotClearIt) {
  auto [secret, codes] = enrol(user_);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(is(svc_->verify(user_, {"000000", "", ""}, meta_), MfaError::InvalidCode));
  EXPECT_TRUE(audit_.has("mfa.lockout", "source"));
  // What a password success clears (AccountService): the email's counters, not the factor's.
  ASSERT_TRUE(store_->lockout().clear_login_attempts(user_.email_normalized, meta_.ip));
  EXPECT_TRUE(is(svc_->verify(user_, {code(secret, 30), "", ""}, meta_), MfaError::InvalidCode));
  EXPECT_TRUE(audit_.has("mfa.step_up", "locked_source"));
  // Another /64 is not held by this one's lock; another address in the same /64 is.
  RequestMeta v6a{"req-3", "2001:db8:1:2::10", "test"};
  RequestMeta v6b{"req-4", "2001:db8:1:2:ffff::1", "test"};
  for (int i = 0; i < 5; ++i) (void)svc_->verify(user_, {"000000", "", ""}, v6a);
  EXPECT_TRUE(is(svc_->verify(user_, {code(secret, 30), "", ""}, v6b), MfaError::InvalidCode));
  // Another source is not held by this one's lock.
  RequestMeta elsewhere{"req-2", "198.51.100.9", "test"};
  EXPECT_TRUE(svc_->verify(user_, {code(secret, 30), "", ""}, elsewhere));
  // The lock ends.
  clock_.advance(cfg_.lockout.lock + seconds{1});
  EXPECT_TRUE(svc_->verify(user_, {code(secret, 0), "", ""}, meta_))
      << "the current step, after the lock";
}

TEST_F(MfaServiceTest, StepUpNeedsTheFactorOnlyWhenEnrolled) {
  auto pwd = svc_->step_up(user_, {}, meta_);
  ASSERT_TRUE(pwd);
  EXPECT_EQ(*pwd, kAmrPassword);
  auto [secret, codes] = enrol(user_);
  EXPECT_TRUE(is(svc_->step_up(user_, {}, meta_), MfaError::SecondFactorRequired));
  auto ok = svc_->step_up(user_, {code(secret, 30), "", ""}, meta_);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, kAmrTotp);
}

TEST_F(MfaServiceTest, RemoveByUserAndResetByAdminAreAuditedApart) {
  auto [secret, codes] = enrol(user_);
  ASSERT_TRUE(svc_->remove(user_.id, "admin-1", meta_));
  EXPECT_TRUE(audit_.has("mfa.reset", "success"));
  EXPECT_EQ(*store_->mfa().count_recovery_codes(user_.id), 0);
  EXPECT_TRUE(is(svc_->verify(user_, {code(secret, 30), "", ""}, meta_), MfaError::NotEnrolled));
  enrol(user_);
  ASSERT_TRUE(svc_->remove(user_.id, user_.id, meta_));
  EXPECT_TRUE(audit_.has("mfa.remove", "success"));
  auto again = svc_->remove(user_.id, user_.id, meta_);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, make_error_code(MfaError::NotEnrolled));
}

TEST_F(MfaServiceTest, TheUserIsToldWhenAFactorIsAddedOrRemoved) {
  MemoryMailer mail;
  cfg_.public_url = "https://id.example.test";
  svc_ = std::make_unique<MfaService>(*store_, *kek_, clock_, rng_, audit_, cfg_, &mail);
  auto [secret, codes] = enrol(user_);
  ASSERT_TRUE(svc_->regenerate_recovery_codes(user_, meta_));
  ASSERT_TRUE(svc_->remove(user_.id, "admin-1", meta_));
  const auto sent = mail.sent();
  ASSERT_EQ(sent.size(), 3U);
  EXPECT_EQ(sent[0].subject, "Two-step verification is on");
  EXPECT_EQ(sent[1].subject, "New recovery codes");
  EXPECT_EQ(sent[2].subject, "Two-step verification is off");
  for (const auto& m : sent) {
    EXPECT_EQ(m.to, user_.email);
    EXPECT_NE(m.text.find("https://id.example.test/forgot-password"), std::string::npos);
    EXPECT_EQ(m.text.find(secret.expose()), std::string::npos) << "no secret in mail";
  }
  EXPECT_NE(sent[2].text.find("administrator"), std::string::npos);
}

TEST_F(MfaServiceTest, DisabledUserCannotCompleteAChallenge) {
  auto [secret, codes] = enrol(user_);
  auto ch = svc_->challenge_after_password(user_, meta_);
  ASSERT_TRUE(store_->users().set_disabled(user_.id, true, clock_.now()));
  EXPECT_TRUE(is(svc_->complete_challenge((*ch)->token, {code(secret, 30), "", ""}, meta_),
                 AccountError::Disabled));
}

TEST_F(MfaServiceTest, ForcedEnrolmentNeedsTheCodeMailedToTheAccount) {
  MemoryMailer mail;
  cfg_.required_for_all = true;
  cfg_.public_url = "https://id.example.test";
  svc_ = std::make_unique<MfaService>(*store_, *kek_, clock_, rng_, audit_, cfg_, &mail);
  auto ch = svc_->challenge_after_password(user_, meta_);
  ASSERT_TRUE(ch && ch->has_value());
  EXPECT_EQ((*ch)->kind, ChallengeKind::Enroll);
  EXPECT_TRUE((*ch)->email_code);
  EXPECT_EQ((*ch)->expires_in, seconds{15 * 60}) << "the challenge lives as long as its code";
  const std::string mailed = mailed_code(mail, user_);
  EXPECT_EQ(mail.last_to(user_.email)->text.find((*ch)->token.expose()), std::string::npos);
  for (const auto& e : audit_.events) EXPECT_EQ(e.result.find(mailed), std::string::npos);
  auto e = svc_->enrol_for_challenge((*ch)->token, meta_);
  ASSERT_TRUE(e);
  const std::string totp_code = code(e->secret_base32);
  auto with = [&](std::string email_code) {
    SecondFactor f{totp_code, "", "", std::move(email_code)};
    return svc_->complete_challenge((*ch)->token, f, meta_);
  };
  // Another challenge's code does not fit this one.
  auto other = svc_->challenge_after_password(user_, meta_);
  ASSERT_TRUE(other && other->has_value());
  const std::string other_code = mailed_code(mail, user_);
  ASSERT_NE(other_code, mailed);
  EXPECT_TRUE(is(with(""), MfaError::EmailCodeRequired));
  EXPECT_TRUE(is(with(other_code), MfaError::InvalidEmailCode));
  EXPECT_TRUE(is(with("1234567"), MfaError::InvalidEmailCode)) << "too short";
  EXPECT_TRUE(is(with(mailed + "0"), MfaError::InvalidEmailCode)) << "too long";
  EXPECT_FALSE(svc_->status(user_)->totp) << "nothing activated by a refused attempt";
  // The right mailed code with a wrong first code: still no factor, the challenge stays.
  EXPECT_TRUE(is(svc_->complete_challenge((*ch)->token, {"000000", "", "", mailed}, meta_),
                 MfaError::InvalidCode));
  auto done = with(mailed.substr(0, 4) + " " + mailed.substr(4));
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(done->recovery_codes.size(), 10U);
  EXPECT_TRUE(svc_->status(user_)->totp);
  EXPECT_TRUE(audit_.has("mfa.enrol_code", "accepted"));
  // Reused: the challenge and its code are spent.
  EXPECT_TRUE(is(with(mailed), MfaError::InvalidChallenge));
}

TEST_F(MfaServiceTest, MailedEnrolmentCodeExpiresAndItsGuessesAreLockedOut) {
  MemoryMailer mail;
  cfg_.required_for_all = true;
  cfg_.enrollment_code_ttl = seconds{60};
  svc_ = std::make_unique<MfaService>(*store_, *kek_, clock_, rng_, audit_, cfg_, &mail);
  auto ch = svc_->challenge_after_password(user_, meta_);
  ASSERT_TRUE(ch && ch->has_value());
  EXPECT_EQ((*ch)->expires_in, cfg_.challenge_ttl) << "never shorter than a challenge";
  const std::string mailed = mailed_code(mail, user_);
  auto e = svc_->enrol_for_challenge((*ch)->token, meta_);
  ASSERT_TRUE(e);
  clock_.advance(seconds{61});
  EXPECT_TRUE(
      is(svc_->complete_challenge((*ch)->token, {code(e->secret_base32), "", "", mailed}, meta_),
         MfaError::InvalidEmailCode))
      << "expired code";
  EXPECT_TRUE(audit_.has("mfa.enrol_code", "expired"));

  // Guessing: after per_source failures even the right code is refused.
  auto ch2 = svc_->challenge_after_password(user_, meta_);
  const std::string right = mailed_code(mail, user_);
  auto e2 = svc_->enrol_for_challenge((*ch2)->token, meta_);
  ASSERT_TRUE(e2);
  for (int i = 0; i < 4; ++i) {
    const std::string guess = fmt::format("{:08}", i);
    if (guess == right) continue;
    EXPECT_TRUE(is(svc_->complete_challenge((*ch2)->token, {"", "", "", guess}, meta_),
                   MfaError::InvalidEmailCode));
  }
  EXPECT_TRUE(
      is(svc_->complete_challenge((*ch2)->token, {code(e2->secret_base32), "", "", right}, meta_),
         MfaError::InvalidEmailCode))
      << "locked";
  EXPECT_TRUE(audit_.has("mfa.enrol_code", "locked_source"));
  EXPECT_FALSE(svc_->status(user_)->totp);
}

TEST_F(MfaServiceTest, EnrolmentCodeMailsAreThrottledAndTheSwitchTurnsThemOff) {
  MemoryMailer mail;
  cfg_.required_for_all = true;
  svc_ = std::make_unique<MfaService>(*store_, *kek_, clock_, rng_, audit_, cfg_, &mail);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(svc_->challenge_after_password(user_, meta_));
  EXPECT_EQ(mail.sent().size(), 5U) << "notices_per_hour";
  EXPECT_EQ(audit_.count("mfa.enrol_code", "throttled"), 2U);

  cfg_.enrollment_requires_email_code = false;
  mail.clear();
  svc_ = std::make_unique<MfaService>(*store_, *kek_, clock_, rng_, audit_, cfg_, &mail);
  auto ch = svc_->challenge_after_password(user_, meta_);
  ASSERT_TRUE(ch && ch->has_value());
  EXPECT_FALSE((*ch)->email_code);
  EXPECT_EQ((*ch)->expires_in, cfg_.challenge_ttl);
  EXPECT_TRUE(mail.sent().empty());
  auto e = svc_->enrol_for_challenge((*ch)->token, meta_);
  ASSERT_TRUE(e);
  EXPECT_TRUE(svc_->complete_challenge((*ch)->token, {code(e->secret_base32), "", ""}, meta_));
}

TEST_F(MfaServiceTest, AFailedSecondFactorMailsTheOwnerOncePerWindowAndThrottled) {
  MemoryMailer mail;
  cfg_.public_url = "https://id.example.test";
  svc_ = std::make_unique<MfaService>(*store_, *kek_, clock_, rng_, audit_, cfg_, &mail);
  auto [secret, codes] = enrol(user_);
  mail.clear();
  auto ch = svc_->challenge_after_password(user_, meta_);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(is(svc_->complete_challenge((*ch)->token, {"000000", "", ""}, meta_),
                   MfaError::InvalidCode));
  ASSERT_EQ(mail.sent().size(), 1U) << "one notice for a burst of failures";
  const auto m = mail.sent()[0];
  EXPECT_EQ(m.to, user_.email);
  EXPECT_EQ(m.subject, "Someone got past your password but not your second step");
  EXPECT_NE(m.text.find("https://id.example.test/forgot-password"), std::string::npos);
  EXPECT_EQ(m.text.find(secret.expose()), std::string::npos);
  EXPECT_EQ(m.text.find((*ch)->token.expose()), std::string::npos);
  // Each new lockout window brings one more, up to notices_per_hour an hour.
  for (int w = 0; w < 6; ++w) {
    clock_.advance(cfg_.lockout.window + seconds{1});
    auto c = svc_->challenge_after_password(user_, meta_);
    EXPECT_TRUE(is(svc_->complete_challenge((*c)->token, {"000000", "", ""}, meta_),
                   MfaError::InvalidCode));
  }
  // Windows of 15 min + 1 s: never more than 4 in an hour, so none was throttled.
  EXPECT_EQ(mail.sent().size(), 7U);
  EXPECT_EQ(audit_.count("mfa.failed_notice", "sent"), 7U);
  // A right code signs in and sends nothing.
  const auto before = mail.sent().size();
  auto c = svc_->challenge_after_password(user_, meta_);
  EXPECT_TRUE(svc_->complete_challenge((*c)->token, {code(secret, 30), "", ""}, meta_));
  EXPECT_EQ(mail.sent().size(), before);
}

TEST_F(MfaServiceTest, FailedCodeNoticesStopAtTheHourlyLimit) {
  MemoryMailer mail;
  cfg_.lockout_enabled = false;  // no windows: the hourly limit alone bounds the notices
  svc_ = std::make_unique<MfaService>(*store_, *kek_, clock_, rng_, audit_, cfg_, &mail);
  auto [secret, codes] = enrol(user_);
  mail.clear();
  auto ch = svc_->challenge_after_password(user_, meta_);
  for (int i = 0; i < 8; ++i)
    EXPECT_TRUE(is(svc_->complete_challenge((*ch)->token, {"000000", "", ""}, meta_),
                   MfaError::InvalidCode));
  EXPECT_EQ(mail.sent().size(), 5U);
  EXPECT_EQ(audit_.count("mfa.failed_notice", "throttled"), 3U);
  clock_.advance(std::chrono::hours{1} + seconds{1});
  EXPECT_TRUE(is(svc_->complete_challenge((*ch)->token, {"000000", "", ""}, meta_),
                 MfaError::InvalidChallenge))
      << "the challenge expired meanwhile";
  auto ch2 = svc_->challenge_after_password(user_, meta_);
  EXPECT_TRUE(is(svc_->complete_challenge((*ch2)->token, {"000000", "", ""}, meta_),
                 MfaError::InvalidCode));
  EXPECT_EQ(mail.sent().size(), 6U) << "a new hour";
}

TEST_F(MfaServiceTest, StepUpIsRefusedToARequiredUserWithoutAFactor) {
  cfg_.required_for_all = true;
  make();
  EXPECT_TRUE(is(svc_->step_up(user_, {}, meta_), MfaError::EnrollmentRequired));
  EXPECT_TRUE(is(svc_->step_up(user_, {"123456", "", ""}, meta_), MfaError::EnrollmentRequired));
  EXPECT_TRUE(audit_.has("mfa.step_up", "enrollment_required"));
  EXPECT_TRUE(*svc_->needs_enrolment(user_));
  auto [secret, codes] = enrol(user_);
  EXPECT_FALSE(*svc_->needs_enrolment(user_));
  EXPECT_TRUE(is(svc_->step_up(user_, {}, meta_), MfaError::SecondFactorRequired));
  EXPECT_TRUE(svc_->step_up(user_, {code(secret, 30), "", ""}, meta_));
}

}  // namespace
}  // namespace gh::service
