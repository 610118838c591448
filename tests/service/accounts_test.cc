#include "service/accounts/accounts.h"

#include <gtest/gtest.h>

#include "core/account/email.h"

namespace gh::service {
namespace {

class RecordingAudit final : public AuditSink {
 public:
  void record(const AuditEvent& e) override { events.push_back(e); }
  std::vector<AuditEvent> events;
};

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*store::open_store("memory://"));
    ASSERT_TRUE(store_->migrate());
    password::HashParams p;
    p.argon2_memory_kib = 8 * 1024;
    p.argon2_iterations = 1;
    hasher_.emplace(std::move(*password::PasswordHasher::create(p)));
    policy_ = password::PasswordPolicy::from_lists_for_test({}, {"password", "letmein"}, {});
    svc_ = std::make_unique<AccountService>(AccountDeps{*store_, *hasher_, *policy_, clock_, rng_, audit_});
  }

  Result<store::User> reg(std::string email, std::string pw) {
    return svc_->register_user({std::move(email), SecretString(pw), ""}, meta_);
  }
  Result<store::User> login(std::string email, std::string pw) {
    return svc_->login({std::move(email), SecretString(pw)}, meta_);
  }

  std::unique_ptr<store::Store> store_;
  std::optional<password::PasswordHasher> hasher_;
  std::shared_ptr<const password::PasswordPolicy> policy_;
  FakeClock clock_;
  SystemRandom rng_;
  RecordingAudit audit_;
  RequestMeta meta_{"req-1", "127.0.0.1", "test"};
  std::unique_ptr<AccountService> svc_;
};

constexpr const char* kGood = "violet harbor tangerine";

TEST_F(AccountsTest, RegisterThenLogin) {
  auto u = reg("Ada@Example.COM", kGood);
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->email, "Ada@Example.COM");
  EXPECT_EQ(u->email_normalized, "ada@example.com");
  EXPECT_TRUE(u->password_hash.starts_with("$argon2id$"));
  EXPECT_EQ(u->created_at, clock_.now());
  auto l = login("  ada@EXAMPLE.com ", kGood);
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(l->id, u->id);
  // A verified password is not yet a sign-in (an MFA step may follow): user.login success is
  // audited by whoever issues the session or tokens, never here.
  for (const auto& e : audit_.events)
    EXPECT_FALSE(e.action == "user.login" && e.result == "success") << "audited before the session";
  // A failure is audited here.
  EXPECT_FALSE(login("ada@example.com", "wrong harbor tangerine"));
  EXPECT_EQ(audit_.events.back().action, "user.login");
  EXPECT_EQ(audit_.events.back().result, "wrong_password");
}

TEST_F(AccountsTest, EmailTaken) {
  ASSERT_TRUE(reg("a@b.test", kGood));
  auto again = reg("A@B.TEST", kGood);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, make_error_code(AccountError::EmailTaken));
}

TEST_F(AccountsTest, InvalidCredentialsForUnknownAndWrong) {
  ASSERT_TRUE(reg("a@b.test", kGood));
  auto wrong = login("a@b.test", "violet harbor tangerinE");
  auto unknown = login("nobody@b.test", kGood);
  ASSERT_FALSE(wrong);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(wrong.error().code, make_error_code(AccountError::InvalidCredentials));
  EXPECT_EQ(unknown.error().code, make_error_code(AccountError::InvalidCredentials));
  EXPECT_EQ(wrong.error().message(), unknown.error().message());
  // The audit log keeps the precise reason; the client never sees it.
  EXPECT_EQ(audit_.events[audit_.events.size() - 2].result, "wrong_password");
  EXPECT_EQ(audit_.events.back().result, "unknown_user");
}

TEST_F(AccountsTest, DisabledIsRevealedOnlyAfterThePasswordVerified) {
  auto u = reg("a@b.test", kGood);
  ASSERT_TRUE(u);
  ASSERT_TRUE(svc_->set_disabled(u->id, true, meta_));
  auto wrong = login("a@b.test", "not the password at all");
  EXPECT_EQ(wrong.error().code, make_error_code(AccountError::InvalidCredentials));
  auto right = login("a@b.test", kGood);
  EXPECT_EQ(right.error().code, make_error_code(AccountError::Disabled));
}

TEST_F(AccountsTest, PolicyAndEmailErrorsPassThrough) {
  auto weak = reg("a@b.test", "short");
  ASSERT_FALSE(weak);
  EXPECT_EQ(weak.error().code, make_error_code(password::PolicyError::TooShort));
  auto bad = reg("not-an-email", kGood);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code.category(), account::EmailError_category());
  EXPECT_EQ(store_->users().count_users().value(), 0);
}

TEST_F(AccountsTest, OutdatedHashIsRehashedOnLogin) {
  // A bcrypt hash imported from another system verifies and is replaced by Argon2id.
  password::HashParams bp;
  bp.algorithm = password::Algorithm::Bcrypt;
  bp.bcrypt_cost = 10;
  auto bcrypt = password::PasswordHasher::create(bp);
  ASSERT_TRUE(bcrypt);
  auto u = reg("a@b.test", kGood);
  ASSERT_TRUE(u);
  const std::string old = *bcrypt->hash(SecretString(std::string_view(kGood)));
  ASSERT_TRUE(store_->users().update_password_hash(u->id, u->password_hash, old, clock_.now()));
  auto l = login("a@b.test", kGood);
  ASSERT_TRUE(l);
  EXPECT_TRUE(store_->users().find_user_by_id(u->id)->password_hash.starts_with("$argon2id$"));
  EXPECT_TRUE(login("a@b.test", kGood));
}

TEST_F(AccountsTest, AuditEventsCarryNoSecret) {
  ASSERT_TRUE(reg("a@b.test", kGood));
  (void)login("a@b.test", "violet harbor tangerine-wrong");
  for (const auto& e : audit_.events) {
    for (const std::string* f : {&e.action, &e.result, &e.actor, &e.subject}) {
      EXPECT_EQ(f->find("violet"), std::string::npos);
      EXPECT_EQ(f->find("argon2"), std::string::npos);
    }
  }
}

TEST_F(AccountsTest, CachedUserIsSharedPerVersionAndReplacedOnChange) {
  auto u = reg("a@b.test", kGood);
  ASSERT_TRUE(u);
  EXPECT_EQ(svc_->cached_user_shared(u->id), nullptr) << "nothing read yet";
  ASSERT_TRUE(svc_->load_user(u->id));
  auto a = svc_->cached_user_shared(u->id);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->user.email, "a@b.test");
  EXPECT_EQ(svc_->cached_user_shared(u->id), a) << "readers share one version, no copy";
  EXPECT_EQ(svc_->cached_user(u->id)->id, u->id) << "the copying accessor still works";
  a->rendered.store(std::make_shared<const std::string>("derived from this version"));
  // A change replaces the version: nothing derived from the old one is served.
  ASSERT_TRUE(svc_->set_disabled(u->id, true, meta_));
  EXPECT_EQ(svc_->cached_user_shared(u->id), nullptr);
  ASSERT_TRUE(svc_->load_user(u->id));
  auto b = svc_->cached_user_shared(u->id);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(b, a);
  EXPECT_TRUE(b->user.disabled);
  EXPECT_EQ(b->rendered.load(), nullptr);
  EXPECT_FALSE(a->user.disabled) << "the old version is immutable (holders see what they read)";
  // Fresh for the cache TTL (2 s) only.
  clock_.advance(std::chrono::seconds{2});
  EXPECT_EQ(svc_->cached_user_shared(u->id), nullptr);
  EXPECT_FALSE(svc_->cached_user(u->id));
}

}  // namespace
}  // namespace gh::service
