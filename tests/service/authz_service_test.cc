// AuthzService and AdminService (docs/authz.md) over the memory store, with a
// FakeClock (no sleeps) and a recording AuditSink that also appends to the
// store's audit log (so tenant_audit has rows to read).
//
// The tenant store is wrapped so the tests can count store reads (is the cache
// used?) and run a hook in the middle of a read (an eviction racing it).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <set>

#include <gtest/gtest.h>

#include "core/password/hasher.h"
#include "core/password/policy.h"
#include "service/authz/admin_service.h"
#include "service/authz/authz_service.h"
#include "service/mfa/mfa_service.h"
#include "service/tokens/token_service.h"

namespace gh::service {
namespace {

using std::chrono::seconds;
using authz::Reason;

constexpr const char* kKek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

// ---- Test doubles -------------------------------------------------------------

// Delegates to the memory backend's TenantStore; counts reads and can run a
// hook right after a read returned (the value read is already stale then).
class HookedTenants final : public store::TenantStore {
 public:
  explicit HookedTenants(store::TenantStore& inner) : in_(inner) {}

  Status create_tenant(const store::Tenant& t) override { return in_.create_tenant(t); }
  Result<store::Tenant> find_tenant(std::string_view id) override { return in_.find_tenant(id); }
  Result<store::TenantPage> list_tenants(std::optional<std::string_view> after, std::size_t limit) override {
    return in_.list_tenants(after, limit);
  }
  Status rename_tenant(std::string_view id, std::string_view name, Seconds now) override {
    return in_.rename_tenant(id, name, now);
  }
  Status delete_tenant(std::string_view id) override { return in_.delete_tenant(id); }
  Status add_member(const store::Membership& m) override { return in_.add_member(m); }
  Status set_member_role(std::string_view t, std::string_view u, std::string_view role, Seconds now,
                         std::span<const std::string> admin_roles) override {
    return in_.set_member_role(t, u, role, now, admin_roles);
  }
  Status remove_member(std::string_view t, std::string_view u, std::span<const std::string> admin_roles) override {
    return in_.remove_member(t, u, admin_roles);
  }
  Result<store::Membership> find_membership(std::string_view t, std::string_view u) override {
    ++membership_reads;
    auto r = in_.find_membership(t, u);
    run(after_membership_read);
    return r;
  }
  Result<store::MemberPage> list_members(std::string_view t, std::optional<std::string_view> after,
                                         std::size_t limit) override {
    return in_.list_members(t, after, limit);
  }
  Result<std::vector<store::Membership>> memberships_of(std::string_view u) override {
    return in_.memberships_of(u);
  }
  Status set_platform_admin(std::string_view u, bool admin, Seconds now) override {
    return in_.set_platform_admin(u, admin, now);
  }
  Result<bool> is_platform_admin(std::string_view u) override {
    ++admin_reads;
    return in_.is_platform_admin(u);
  }
  Status create_service_client(const store::ServiceClient& c) override { return in_.create_service_client(c); }
  Result<store::ServiceClient> find_service_client(std::string_view id) override {
    ++client_reads;
    auto r = in_.find_service_client(id);
    run(after_client_read);
    return r;
  }
  Result<std::vector<store::ServiceClient>> list_service_clients(std::string_view t) override {
    return in_.list_service_clients(t);
  }
  Status set_service_client_secret(std::string_view id, std::string_view hash, Seconds now) override {
    return in_.set_service_client_secret(id, hash, now);
  }
  Status delete_service_client(std::string_view id) override { return in_.delete_service_client(id); }

  int membership_reads = 0;
  int admin_reads = 0;
  int client_reads = 0;
  std::function<void()> after_membership_read;  // runs once, then clears itself
  std::function<void()> after_client_read;      // runs once, then clears itself

 private:
  static void run(std::function<void()>& hook) {
    if (!hook) return;
    auto h = std::move(hook);
    hook = nullptr;
    h();
  }
  store::TenantStore& in_;
};

class HookedStore final : public store::Store {
 public:
  explicit HookedStore(std::unique_ptr<store::Store> inner) : in_(std::move(inner)), tenants_(in_->tenants()) {}
  Result<int> migrate() override { return in_->migrate(); }
  Result<int> schema_version() override { return in_->schema_version(); }
  Status ping() override { return in_->ping(); }
  std::string_view backend() const override { return in_->backend(); }
  store::UserStore& users() override { return in_->users(); }
  store::TokenStore& tokens() override { return in_->tokens(); }
  store::KeyStore& keys() override { return in_->keys(); }
  store::SessionStore& sessions() override { return in_->sessions(); }
  store::AuditStore& audit() override { return in_->audit(); }
  store::LockoutStore& lockout() override { return in_->lockout(); }
  store::TenantStore& tenants() override { return tenants_; }
  store::OneTimeTokenStore& one_time_tokens() override { return in_->one_time_tokens(); }
  store::MfaStore& mfa() override { return in_->mfa(); }
  store::IdentityStore& identities() override { return in_->identities(); }
  HookedTenants& hooked() { return tenants_; }
  // The same data without the counters/hooks: "another instance" writing.
  store::Store& raw() { return *in_; }

 private:
  std::unique_ptr<store::Store> in_;
  HookedTenants tenants_;
};

// Keeps every event, and appends it to the store's audit log.
class RecordingAudit final : public AuditSink {
 public:
  void record(const AuditEvent& e) override {
    events.push_back(e);
    if (store != nullptr) {
      store::AuditRecord r{0, e.time, e.action, e.result, e.actor, e.subject, e.meta.ip, e.meta.user_agent,
                           e.meta.request_id, e.tenant};
      (void)store->append_audit(std::span<const store::AuditRecord>(&r, 1));
    }
  }
  [[nodiscard]] std::vector<AuditEvent> with(std::string_view action) const {
    std::vector<AuditEvent> out;
    for (const auto& e : events)
      if (e.action == action) out.push_back(e);
    return out;
  }
  std::vector<AuditEvent> events;
  store::AuditStore* store = nullptr;
};

// Reads `base`; once armed, the first `calls` reads are as `base`, every
// later one `jump` ahead (time passing at a chosen point inside a call).
class JumpingClock final : public Clock {
 public:
  explicit JumpingClock(const Clock& base) : base_(base) {}
  [[nodiscard]] Seconds now() const override {
    const int left = left_.load();
    if (left < 0) return base_.now();
    if (left == 0) return base_.now() + jump_;
    left_.fetch_sub(1);
    return base_.now();
  }
  void arm(int calls, seconds jump) {
    jump_ = jump;
    left_ = calls;
  }
  void disarm() { left_ = -1; }

 private:
  const Clock& base_;
  seconds jump_{0};
  mutable std::atomic<int> left_{-1};
};

std::error_code code_of(const Error& e) { return e.code; }
template <class R>
std::error_code err(const R& r) {
  return r ? std::error_code{} : code_of(r.error());
}
std::error_code ec(AuthzFailure f) { return make_error_code(f); }

// ---- Fixture ------------------------------------------------------------------

class AuthzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<HookedStore>(std::move(*store::open_store("memory://")));
    ASSERT_TRUE(store_->migrate());
    audit_.store = &store_->raw().audit();
    kek_.emplace(std::move(*crypto::Kek::from_base64url(kKek)));
    keys_ = std::make_unique<KeyManager>(store_->keys(), *kek_, clock_, rng_, seconds{930});
    ASSERT_TRUE(keys_->ensure_active(jwt::Alg::EdDSA));
    TokenConfig tcfg;
    tcfg.issuer = "https://auth.test";
    tcfg.audience = "gatehouse";
    tokens_ = std::make_unique<TokenService>(*store_, *keys_, *kek_, clock_, rng_, audit_, tcfg);
    password::HashParams p;
    p.argon2_memory_kib = 8 * 1024;
    p.argon2_iterations = 1;
    hasher_.emplace(std::move(*password::PasswordHasher::create(p)));
    pw_policy_ = password::PasswordPolicy::from_lists_for_test({}, {}, {});
    AccountDeps deps{*store_, *hasher_, *pw_policy_, clock_, rng_, audit_};
    deps.tokens = tokens_.get();
    accounts_ = std::make_unique<AccountService>(deps);
    make_services(AuthzConfig{});

    alice_ = add_user("alice@a.test");
    mark_ = add_user("mark@a.test");
    mia_ = add_user("mia@a.test");
    dave_ = add_user("dave@a.test");
    bob_ = add_user("bob@b.test");
    nobody_ = add_user("nobody@x.test");
    root_ = add_user("root@platform.test");
    ta_ = add_tenant("Acme");
    tb_ = add_tenant("Beta");
    member(ta_, alice_, "admin");
    member(ta_, mark_, "manager");
    member(ta_, mia_, "member");
    member(ta_, dave_, "member");  // disabled below
    member(tb_, bob_, "admin");
    ASSERT_TRUE(store_->raw().tenants().set_platform_admin(root_, true, clock_.now()));
    ASSERT_TRUE(store_->raw().users().set_disabled(dave_, true, clock_.now()));
    audit_.events.clear();
  }

  void make_services(AuthzConfig cfg, const authz::Policy& policy = authz::default_policy()) {
    admin_.reset();
    authz_ = std::make_unique<AuthzService>(*store_, *accounts_, *tokens_, policy, clock_, audit_, std::move(cfg));
    admin_ = std::make_unique<AdminService>(*store_, *accounts_, *authz_, clock_, rng_, audit_);
  }

  std::string add_user(const std::string& email) {
    store::User u;
    u.id = uuid_v4(rng_);
    u.email = u.email_normalized = email;
    u.created_at = u.updated_at = clock_.now();
    EXPECT_TRUE(store_->raw().users().create_user(u));
    return u.id;
  }
  std::string add_tenant(const std::string& name) {
    store::Tenant t{uuid_v4(rng_), name, clock_.now(), clock_.now()};
    EXPECT_TRUE(store_->raw().tenants().create_tenant(t));
    return t.id;
  }
  void member(const std::string& t, const std::string& u, const std::string& role) {
    EXPECT_TRUE(store_->raw().tenants().add_member(store::Membership{t, u, role, clock_.now(), clock_.now()}));
  }
  std::optional<std::string> role_of(const std::string& t, const std::string& u) {
    auto m = store_->raw().tenants().find_membership(t, u);
    if (!m) return std::nullopt;
    return m->role;
  }

  Caller fresh(const std::string& user) { return Caller{user, clock_.now(), meta_}; }
  Caller stale(const std::string& user) { return Caller{user, clock_.now() - seconds{601}, meta_}; }

  authz::Decision check1(const std::string& subject, const std::string& tenant, const std::string& resource,
                         const std::string& action) {
    const CheckRequest req{subject, tenant, resource, action};
    auto d = authz_->check(std::span<const CheckRequest>(&req, 1));
    EXPECT_TRUE(d) << d.error().message();
    if (!d || d->size() != 1) return {};
    return d->front();
  }
  std::optional<authz::Decision> cached1(const std::string& subject, const std::string& tenant,
                                         const std::string& resource, const std::string& action) {
    const CheckRequest req{subject, tenant, resource, action};
    auto d = authz_->check_cached(std::span<const CheckRequest>(&req, 1));
    if (!d) return std::nullopt;
    EXPECT_EQ(d->size(), 1U);
    return d->front();
  }

  AccessClaims sign_in(const std::string& user_id, Seconds auth_time) {
    auto user = store_->raw().users().find_user_by_id(user_id);
    EXPECT_TRUE(user);
    auto issued = tokens_->issue(*user, auth_time, "cli-app", "pwd", meta_);
    EXPECT_TRUE(issued) << issued.error().message();
    auto claims = tokens_->verify_access(issued->access_token);
    EXPECT_TRUE(claims) << claims.error().message();
    return *claims;
  }

  std::unique_ptr<HookedStore> store_;
  FakeClock clock_;
  SystemRandom rng_;
  RecordingAudit audit_;
  std::optional<crypto::Kek> kek_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<TokenService> tokens_;
  std::optional<password::PasswordHasher> hasher_;
  std::shared_ptr<const password::PasswordPolicy> pw_policy_;
  std::unique_ptr<AccountService> accounts_;
  std::unique_ptr<AuthzService> authz_;
  std::unique_ptr<AdminService> admin_;
  RequestMeta meta_{"req-1", "127.0.0.1", "test"};

  std::string alice_, mark_, mia_, dave_, bob_, nobody_, root_;
  std::string ta_, tb_;
};

// ---- (1) Decisions ------------------------------------------------------------

TEST_F(AuthzTest, DecisionsForEveryKindOfSubject) {
  struct Row {
    std::string who, tenant, resource, action;
    bool allow;
    Reason reason;
  };
  const std::string unknown = "00000000-0000-4000-8000-00000000dead";
  const std::vector<Row> rows = {
      {alice_, ta_, "users", "admin", true, Reason::Granted},
      {alice_, ta_, "billing", "delete", true, Reason::Granted},
      {mark_, ta_, "users", "read", true, Reason::Granted},
      {mark_, ta_, "users", "admin", false, Reason::NotGranted},
      {mark_, ta_, "projects", "write", true, Reason::Granted},
      {mia_, ta_, "projects", "read", true, Reason::Granted},
      {mia_, ta_, "users", "read", false, Reason::NotGranted},
      {mia_, ta_, "projects", "write", false, Reason::NotGranted},
      {nobody_, ta_, "projects", "read", false, Reason::NotMember},
      {bob_, ta_, "projects", "read", false, Reason::NotMember},  // admin elsewhere
      {alice_, tb_, "projects", "read", false, Reason::NotMember},
      {alice_, "", "projects", "read", false, Reason::NotMember},
      // a non-member learns nothing about the resource
      {nobody_, ta_, "no-such-thing", "read", false, Reason::NotMember},
      {root_, ta_, "users", "admin", true, Reason::PlatformAdmin},
      {root_, tb_, "billing", "delete", true, Reason::PlatformAdmin},
      {root_, "not-a-tenant", "projects", "read", true, Reason::PlatformAdmin},
      {root_, ta_, "no-such-thing", "read", false, Reason::UnknownResource},
      {alice_, ta_, "no-such-thing", "read", false, Reason::UnknownResource},
      {alice_, ta_, "projects", "fly", false, Reason::UnknownAction},
      {dave_, ta_, "projects", "read", false, Reason::NotAuthenticated},  // disabled member
      {unknown, ta_, "projects", "read", false, Reason::NotAuthenticated},
      {"", ta_, "projects", "read", false, Reason::NotAuthenticated},
  };
  std::vector<CheckRequest> batch;
  for (const auto& r : rows) batch.push_back({r.who, r.tenant, r.resource, r.action});
  auto got = authz_->check(batch);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got->size(), rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "row " << i << ": " << rows[i].resource << ":" << rows[i].action);
    EXPECT_EQ((*got)[i].allow, rows[i].allow);
    EXPECT_EQ(authz::reason_code((*got)[i].reason), authz::reason_code(rows[i].reason));
  }
  // One at a time gives the same answers as the batch.
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto d = check1(rows[i].who, rows[i].tenant, rows[i].resource, rows[i].action);
    EXPECT_EQ(d.reason, (*got)[i].reason) << "row " << i;
  }
}

TEST_F(AuthzTest, AMemberWithARoleThePolicyDoesNotKnowIsDenied) {
  member(tb_, mia_, "ghost");
  const auto d = check1(mia_, tb_, "projects", "read");
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason, Reason::UnknownRole);
}

TEST_F(AuthzTest, RequireAndRequirePlatformAdmin) {
  EXPECT_TRUE(authz_->require(alice_, ta_, "users", "admin"));
  EXPECT_TRUE(authz_->require(mark_, ta_, "users", "read"));
  EXPECT_EQ(err(authz_->require(mark_, ta_, "users", "admin")), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(authz_->require(nobody_, ta_, "users", "read")), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(authz_->require(dave_, ta_, "projects", "read")), ec(AuthzFailure::Forbidden));
  EXPECT_TRUE(authz_->require(root_, tb_, "users", "admin"));
  EXPECT_TRUE(authz_->require_platform_admin(root_));
  EXPECT_EQ(err(authz_->require_platform_admin(alice_)), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(authz_->require_platform_admin("00000000-0000-4000-8000-00000000dead")), ec(AuthzFailure::Forbidden));
  // A disabled platform admin is no admin at all.
  ASSERT_TRUE(store_->raw().tenants().set_platform_admin(dave_, true, clock_.now()));
  EXPECT_EQ(err(authz_->require_platform_admin(dave_)), ec(AuthzFailure::Forbidden));
}

TEST_F(AuthzTest, CheckCachedIsNulloptWhenColdAndAgreesOnceWarm) {
  const std::vector<CheckRequest> batch = {
      {alice_, ta_, "users", "admin"},    {mark_, ta_, "users", "admin"},  {mia_, ta_, "projects", "read"},
      {nobody_, ta_, "projects", "read"}, {root_, tb_, "users", "admin"},  {dave_, ta_, "projects", "read"},
      {alice_, ta_, "projects", "fly"},
  };
  EXPECT_FALSE(authz_->check_cached(batch)) << "nothing is cached yet";
  // Partly warm (only the first subject) is still a miss for the batch.
  ASSERT_TRUE(authz_->check(std::span<const CheckRequest>(batch.data(), 1)));
  EXPECT_TRUE(authz_->check_cached(std::span<const CheckRequest>(batch.data(), 1)));
  EXPECT_FALSE(authz_->check_cached(batch));

  auto loaded = authz_->check(batch);
  ASSERT_TRUE(loaded);
  auto cached = authz_->check_cached(batch);
  ASSERT_TRUE(cached) << "every part is cached now";
  ASSERT_EQ(cached->size(), loaded->size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ((*cached)[i].allow, (*loaded)[i].allow) << i;
    EXPECT_EQ((*cached)[i].reason, (*loaded)[i].reason) << i;
  }
  // And check() answers from the cache: no store reads.
  const int m = store_->hooked().membership_reads, a = store_->hooked().admin_reads;
  ASSERT_TRUE(authz_->check(batch));
  EXPECT_EQ(store_->hooked().membership_reads, m);
  EXPECT_EQ(store_->hooked().admin_reads, a);

  // Another tenant for the same user is a different entry: cold.
  EXPECT_FALSE(cached1(alice_, tb_, "projects", "read"));
  // Once the entries are older than cache_ttl they are not served.
  clock_.advance(seconds{1});
  EXPECT_FALSE(cached1(alice_, ta_, "users", "admin"));
}

TEST_F(AuthzTest, SubjectCachedMatchesSubject) {
  EXPECT_FALSE(authz_->subject_cached(mark_, ta_));
  auto s = authz_->subject(mark_, ta_);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->authenticated);
  EXPECT_FALSE(s->platform_admin);
  EXPECT_EQ(s->role_in_tenant, "manager");
  auto c = authz_->subject_cached(mark_, ta_);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->role_in_tenant, "manager");
  auto r = authz_->subject(root_, tb_);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->platform_admin);
  EXPECT_EQ(r->role_in_tenant, "");
  auto d = authz_->subject(dave_, ta_);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->authenticated);
}

TEST_F(AuthzTest, SubjectSurvivesTheUserCacheEntryExpiringDuringTheCall) {
  // AccountService keeps a user for 2 s. Wherever inside subject() the clock
  // first says the entry has expired (time passes; or another thread evicts
  // it), the answer is the user's subject. Run in a child process, so a crash
  // fails this test only.
  EXPECT_EXIT(
      {
        JumpingClock jc(clock_);
        AccountService accounts(AccountDeps{*store_, *hasher_, *pw_policy_, jc, rng_, audit_});
        AuthzService authz(*store_, accounts, *tokens_, authz::default_policy(), jc, audit_, AuthzConfig{});
        for (int calls = 0; calls < 8; ++calls) {
          if (!accounts.load_user(mia_)) std::exit(2);  // a fresh accounts-cache entry
          std::fprintf(stderr, "expiring after %d clock reads\n", calls);  // names the crash point
          jc.arm(calls, seconds{2});
          auto s = authz.subject(mia_, ta_);
          jc.disarm();
          if (!s || !s->authenticated || s->role_in_tenant != "member") std::exit(3);
          authz.forget_user(mia_);
        }
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// ---- (2) Cache ----------------------------------------------------------------

TEST_F(AuthzTest, ChangesThroughAdminServiceApplyToTheVeryNextCheck) {
  // Warm everything first.
  EXPECT_EQ(check1(mia_, ta_, "users", "read").reason, Reason::NotGranted);
  EXPECT_EQ(check1(mark_, ta_, "users", "read").reason, Reason::Granted);
  EXPECT_EQ(check1(nobody_, ta_, "projects", "read").reason, Reason::NotMember);
  EXPECT_EQ(check1(bob_, tb_, "projects", "read").reason, Reason::Granted);
  ASSERT_TRUE(cached1(mia_, ta_, "users", "read"));

  // Role change (no clock movement at all).
  ASSERT_TRUE(admin_->set_member_role(fresh(alice_), ta_, mia_, "manager"));
  EXPECT_FALSE(cached1(mia_, ta_, "users", "read")) << "evicted";
  EXPECT_EQ(check1(mia_, ta_, "users", "read").reason, Reason::Granted);

  // Removal.
  ASSERT_TRUE(admin_->remove_member(fresh(alice_), ta_, mark_));
  EXPECT_EQ(check1(mark_, ta_, "users", "read").reason, Reason::NotMember);

  // Addition (by email).
  ASSERT_TRUE(admin_->add_member(fresh(alice_), ta_, "nobody@x.test", "member"));
  EXPECT_EQ(check1(nobody_, ta_, "projects", "read").reason, Reason::Granted);

  // Disabling the user.
  ASSERT_TRUE(admin_->set_disabled(fresh(root_), mia_, true));
  EXPECT_EQ(check1(mia_, ta_, "users", "read").reason, Reason::NotAuthenticated);
  ASSERT_TRUE(admin_->set_disabled(fresh(root_), mia_, false));
  EXPECT_EQ(check1(mia_, ta_, "users", "read").reason, Reason::Granted);

  // Deleting the tenant.
  ASSERT_TRUE(admin_->delete_tenant(fresh(bob_), tb_));
  EXPECT_EQ(check1(bob_, tb_, "projects", "read").reason, Reason::NotMember);

  // Deleting the user.
  EXPECT_EQ(check1(nobody_, ta_, "projects", "read").reason, Reason::Granted);
  ASSERT_TRUE(admin_->delete_user(fresh(root_), nobody_));
  EXPECT_EQ(check1(nobody_, ta_, "projects", "read").reason, Reason::NotAuthenticated);
}

TEST_F(AuthzTest, ChangesMadeElsewhereAreSeenOnlyAfterCacheTtl) {
  AuthzConfig cfg;
  cfg.cache_ttl = seconds{5};
  make_services(cfg);
  EXPECT_EQ(check1(mia_, ta_, "projects", "read").reason, Reason::Granted);
  EXPECT_EQ(check1(nobody_, ta_, "projects", "read").reason, Reason::NotMember);
  EXPECT_EQ(check1(mark_, ta_, "users", "read").reason, Reason::Granted);
  EXPECT_EQ(check1(bob_, ta_, "projects", "read").reason, Reason::NotMember);

  // Another instance changes the store directly.
  ASSERT_TRUE(store_->raw().tenants().remove_member(ta_, mia_, {}));
  member(ta_, nobody_, "member");
  ASSERT_TRUE(store_->raw().tenants().set_member_role(ta_, mark_, "member", clock_.now(), {}));
  ASSERT_TRUE(store_->raw().tenants().set_platform_admin(bob_, true, clock_.now()));

  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(check1(mia_, ta_, "projects", "read").reason, Reason::Granted) << "stale until cache_ttl";
    EXPECT_EQ(check1(nobody_, ta_, "projects", "read").reason, Reason::NotMember);
    EXPECT_EQ(check1(mark_, ta_, "users", "read").reason, Reason::Granted);
    EXPECT_EQ(check1(bob_, ta_, "projects", "read").reason, Reason::NotMember);
    clock_.advance(seconds{1});
  }
  // 5 s after the answers were read: all fresh.
  EXPECT_EQ(check1(mia_, ta_, "projects", "read").reason, Reason::NotMember);
  EXPECT_EQ(check1(nobody_, ta_, "projects", "read").reason, Reason::Granted);
  EXPECT_EQ(check1(mark_, ta_, "users", "read").reason, Reason::NotGranted);
  EXPECT_EQ(check1(bob_, ta_, "projects", "read").reason, Reason::PlatformAdmin);
}

TEST_F(AuthzTest, DefaultCacheTtlIsOneSecond) {
  EXPECT_EQ(authz_->config().cache_ttl, seconds{1});
  EXPECT_EQ(check1(mia_, ta_, "projects", "read").reason, Reason::Granted);
  ASSERT_TRUE(store_->raw().tenants().remove_member(ta_, mia_, {}));
  EXPECT_EQ(check1(mia_, ta_, "projects", "read").reason, Reason::Granted);
  clock_.advance(seconds{1});
  EXPECT_EQ(check1(mia_, ta_, "projects", "read").reason, Reason::NotMember);
}

TEST_F(AuthzTest, CacheTtlZeroMeansAlwaysFresh) {
  AuthzConfig cfg;
  cfg.cache_ttl = seconds{0};
  make_services(cfg);
  EXPECT_EQ(check1(mia_, ta_, "projects", "read").reason, Reason::Granted);
  EXPECT_FALSE(cached1(mia_, ta_, "projects", "read"));
  ASSERT_TRUE(store_->raw().tenants().remove_member(ta_, mia_, {}));
  EXPECT_EQ(check1(mia_, ta_, "projects", "read").reason, Reason::NotMember);
  member(ta_, mia_, "manager");
  EXPECT_EQ(check1(mia_, ta_, "users", "read").reason, Reason::Granted);
  ASSERT_TRUE(store_->raw().tenants().set_platform_admin(mia_, true, clock_.now()));
  EXPECT_EQ(check1(mia_, tb_, "users", "admin").reason, Reason::PlatformAdmin);
  const int before = store_->hooked().membership_reads;
  (void)check1(mia_, ta_, "users", "read");
  (void)check1(mia_, ta_, "users", "read");
  EXPECT_EQ(store_->hooked().membership_reads, before + 2) << "every check reads the store";
}

TEST_F(AuthzTest, CacheEntriesZeroMeansAlwaysFresh) {
  AuthzConfig cfg;
  cfg.cache_entries = 0;
  make_services(cfg);
  EXPECT_EQ(check1(mia_, ta_, "projects", "read").reason, Reason::Granted);
  EXPECT_FALSE(cached1(mia_, ta_, "projects", "read"));
  ASSERT_TRUE(store_->raw().tenants().remove_member(ta_, mia_, {}));
  EXPECT_EQ(check1(mia_, ta_, "projects", "read").reason, Reason::NotMember);
  ASSERT_TRUE(store_->raw().tenants().set_platform_admin(mia_, true, clock_.now()));
  EXPECT_EQ(check1(mia_, ta_, "projects", "read").reason, Reason::PlatformAdmin);
  // Service clients are not cached either.
  auto c = admin_->create_client(fresh(alice_), ta_, "svc");
  ASSERT_TRUE(c);
  ASSERT_TRUE(authz_->authenticate_client(c->client.id, c->secret.expose()));
  EXPECT_FALSE(authz_->client_cached(c->client.id, c->secret.expose()));
  ASSERT_TRUE(store_->raw().tenants().delete_service_client(c->client.id));
  EXPECT_EQ(err(authz_->authenticate_client(c->client.id, c->secret.expose())), ec(AuthzFailure::InvalidClient));
}

TEST_F(AuthzTest, ATinyCacheStillAnswersCorrectly) {
  AuthzConfig cfg;
  cfg.cache_entries = 1;
  make_services(cfg);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(check1(alice_, ta_, "users", "admin").reason, Reason::Granted);
    EXPECT_EQ(check1(mark_, ta_, "users", "admin").reason, Reason::NotGranted);
    EXPECT_EQ(check1(bob_, ta_, "projects", "read").reason, Reason::NotMember);
    EXPECT_EQ(check1(root_, ta_, "users", "admin").reason, Reason::PlatformAdmin);
  }
}

TEST_F(AuthzTest, AnEvictionRacingAStoreReadWins) {
  AuthzConfig cfg;
  cfg.cache_ttl = seconds{60};
  make_services(cfg);
  ASSERT_EQ(check1(root_, ta_, "users", "admin").reason, Reason::PlatformAdmin);  // nothing about mia cached
  // While mia's membership is being read (the value read says "member"), this
  // instance removes it and evicts.
  store_->hooked().after_membership_read = [&] {
    ASSERT_TRUE(store_->raw().tenants().remove_member(ta_, mia_, {}));
    authz_->forget_membership(ta_, mia_);
  };
  // In flight: the value read before the removal still answers this one check.
  EXPECT_EQ(check1(mia_, ta_, "projects", "read").reason, Reason::Granted);
  EXPECT_FALSE(store_->hooked().after_membership_read) << "the hook ran";
  EXPECT_FALSE(cached1(mia_, ta_, "projects", "read")) << "the stale read was not cached";
  EXPECT_EQ(check1(mia_, ta_, "projects", "read").reason, Reason::NotMember) << "no clock movement needed";
  // Without a race the answer is cached as usual.
  EXPECT_EQ(cached1(mia_, ta_, "projects", "read").value_or(authz::Decision{}).reason, Reason::NotMember);
}

TEST_F(AuthzTest, AClientEvictionRacingAStoreReadWins) {
  AuthzConfig cfg;
  cfg.cache_ttl = seconds{60};
  make_services(cfg);
  auto c = admin_->create_client(fresh(alice_), ta_, "svc");
  ASSERT_TRUE(c);
  const std::string old_secret(c->secret.expose());
  SecretString next;
  store_->hooked().after_client_read = [&] {
    auto r = admin_->rotate_client(fresh(alice_), ta_, c->client.id);
    ASSERT_TRUE(r);
    next = SecretString(r->secret.expose());
  };
  (void)authz_->authenticate_client(c->client.id, old_secret);  // in flight
  EXPECT_FALSE(store_->hooked().after_client_read) << "the hook ran";
  EXPECT_EQ(err(authz_->authenticate_client(c->client.id, old_secret)), ec(AuthzFailure::InvalidClient));
  EXPECT_TRUE(authz_->authenticate_client(c->client.id, next.expose()));
}

// ---- (3) Service clients --------------------------------------------------------

TEST_F(AuthzTest, ServiceClientAuthentication) {
  auto c = admin_->create_client(fresh(alice_), ta_, "billing-sync");
  ASSERT_TRUE(c) << c.error().message();
  const std::string id = c->client.id;
  const std::string secret(c->secret.expose());
  EXPECT_TRUE(id.starts_with("svc_"));
  EXPECT_EQ(c->client.tenant_id, ta_);
  EXPECT_EQ(c->client.name, "billing-sync");
  EXPECT_GE(secret.size(), 32U);

  // Only a hash is stored.
  auto stored = store_->raw().tenants().find_service_client(id);
  ASSERT_TRUE(stored);
  EXPECT_NE(stored->secret_hash, secret);
  EXPECT_EQ(stored->secret_hash.find(secret), std::string::npos);
  EXPECT_EQ(stored->secret_hash, token_hash(secret));
  EXPECT_EQ(c->client.secret_hash, stored->secret_hash);
  // And neither the audit log nor the client list carries the secret.
  for (const auto& e : audit_.events)
    for (const std::string* f : {&e.action, &e.result, &e.actor, &e.subject, &e.tenant})
      EXPECT_EQ(f->find(secret), std::string::npos);
  auto list = admin_->list_clients(fresh(alice_), ta_);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1U);
  EXPECT_EQ(list->front().id, id);
  EXPECT_NE(list->front().secret_hash, secret);

  auto ok = authz_->authenticate_client(id, secret);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->client_id, id);
  EXPECT_EQ(ok->tenant_id, ta_);
  auto cached = authz_->client_cached(id, secret);
  ASSERT_TRUE(cached);
  ASSERT_TRUE(*cached);
  EXPECT_EQ((*cached)->tenant_id, ta_);

  // Every wrong answer is the same InvalidClient.
  std::string wrong = secret;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  const auto bad_secret = authz_->authenticate_client(id, wrong);
  const auto unknown_id = authz_->authenticate_client("svc_doesnotexist", secret);
  const auto empty_secret = authz_->authenticate_client(id, "");
  const auto empty_id = authz_->authenticate_client("", secret);
  const auto huge_id = authz_->authenticate_client(std::string(65, 'x'), secret);
  for (const auto* r : {&bad_secret, &unknown_id, &empty_secret, &empty_id, &huge_id}) {
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->error().code, ec(AuthzFailure::InvalidClient));
    EXPECT_EQ(r->error().message(), bad_secret.error().message());
  }
  auto cached_wrong = authz_->client_cached(id, wrong);
  ASSERT_TRUE(cached_wrong);
  EXPECT_EQ(err(*cached_wrong), ec(AuthzFailure::InvalidClient));
  // Another client's secret does not open this one.
  auto other = admin_->create_client(fresh(bob_), tb_, "other");
  ASSERT_TRUE(other);
  EXPECT_NE(other->secret.expose(), secret);
  EXPECT_EQ(err(authz_->authenticate_client(id, other->secret.expose())), ec(AuthzFailure::InvalidClient));
  auto o = authz_->authenticate_client(other->client.id, other->secret.expose());
  ASSERT_TRUE(o);
  EXPECT_EQ(o->tenant_id, tb_);
}

TEST_F(AuthzTest, RotateMakesTheOldSecretFailAtOnce) {
  AuthzConfig cfg;
  cfg.cache_ttl = seconds{60};
  make_services(cfg);
  auto c = admin_->create_client(fresh(alice_), ta_, "svc");
  ASSERT_TRUE(c);
  const std::string id = c->client.id;
  const std::string old_secret(c->secret.expose());
  ASSERT_TRUE(authz_->authenticate_client(id, old_secret));  // now cached
  ASSERT_TRUE(authz_->client_cached(id, old_secret));

  auto r = admin_->rotate_client(fresh(alice_), ta_, id);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->client.id, id);
  EXPECT_NE(r->secret.expose(), old_secret);
  EXPECT_EQ(store_->raw().tenants().find_service_client(id)->secret_hash, token_hash(r->secret.expose()));

  // No clock movement: the old secret fails right away, the new one works.
  auto cached_old = authz_->client_cached(id, old_secret);
  EXPECT_TRUE(!cached_old || !*cached_old);
  EXPECT_EQ(err(authz_->authenticate_client(id, old_secret)), ec(AuthzFailure::InvalidClient));
  EXPECT_TRUE(authz_->authenticate_client(id, r->secret.expose()));

  // Delete: gone at once too.
  ASSERT_TRUE(admin_->delete_client(fresh(alice_), ta_, id));
  EXPECT_EQ(err(authz_->authenticate_client(id, r->secret.expose())), ec(AuthzFailure::InvalidClient));
}

TEST_F(AuthzTest, AClientRotatedElsewhereIsSeenAfterCacheTtl) {
  AuthzConfig cfg;
  cfg.cache_ttl = seconds{3};
  make_services(cfg);
  auto c = admin_->create_client(fresh(alice_), ta_, "svc");
  ASSERT_TRUE(c);
  const std::string id = c->client.id;
  const std::string old_secret(c->secret.expose());
  ASSERT_TRUE(authz_->authenticate_client(id, old_secret));
  ASSERT_TRUE(store_->raw().tenants().set_service_client_secret(id, token_hash("new secret"), clock_.now()));
  clock_.advance(seconds{2});
  EXPECT_TRUE(authz_->authenticate_client(id, old_secret)) << "cached until cache_ttl";
  clock_.advance(seconds{1});
  EXPECT_EQ(err(authz_->authenticate_client(id, old_secret)), ec(AuthzFailure::InvalidClient));
  EXPECT_TRUE(authz_->authenticate_client(id, "new secret"));
}

TEST_F(AuthzTest, DeletingATenantEndsItsClientsAtOnce) {
  AuthzConfig cfg;
  cfg.cache_ttl = seconds{60};
  make_services(cfg);
  auto c = admin_->create_client(fresh(alice_), ta_, "svc");
  ASSERT_TRUE(c);
  ASSERT_TRUE(authz_->authenticate_client(c->client.id, c->secret.expose()));
  ASSERT_TRUE(admin_->delete_tenant(fresh(alice_), ta_));
  EXPECT_EQ(err(authz_->authenticate_client(c->client.id, c->secret.expose())), ec(AuthzFailure::InvalidClient));
}

// ---- (4) Step-up ----------------------------------------------------------------

TEST_F(AuthzTest, RequireRecentAtTheWindowEdge) {
  EXPECT_EQ(authz_->config().reauth_window, seconds{600});
  const Seconds now = clock_.now();
  EXPECT_TRUE(authz_->require_recent(now));
  EXPECT_TRUE(authz_->require_recent(now - seconds{599}));
  EXPECT_TRUE(authz_->require_recent(now - seconds{600})) << "exactly at the edge is still recent";
  EXPECT_EQ(err(authz_->require_recent(now - seconds{601})), ec(AuthzFailure::ReauthRequired));
  EXPECT_EQ(err(authz_->require_recent(Seconds{})), ec(AuthzFailure::ReauthRequired));
  // The same auth_time ages as the clock moves.
  const Seconds at = now;
  clock_.advance(seconds{600});
  EXPECT_TRUE(authz_->require_recent(at));
  clock_.advance(seconds{1});
  EXPECT_EQ(err(authz_->require_recent(at)), ec(AuthzFailure::ReauthRequired));

  AuthzConfig cfg;
  cfg.reauth_window = seconds{60};
  make_services(cfg);
  EXPECT_TRUE(authz_->require_recent(clock_.now() - seconds{60}));
  EXPECT_EQ(err(authz_->require_recent(clock_.now() - seconds{61})), ec(AuthzFailure::ReauthRequired));
}

// Each step-up operation, for one caller, with the expected audit action.
struct StepUpOp {
  const char* name;
  const char* action;
  std::function<std::error_code(const Caller&)> run;
};

class StepUpTest : public AuthzTest {
 protected:
  void SetUp() override {
    AuthzTest::SetUp();
    auto c = admin_->create_client(fresh(alice_), ta_, "svc");
    ASSERT_TRUE(c);
    client_id_ = c->client.id;
    client_secret_ = std::string(c->secret.expose());
    victim_ = add_user("victim@x.test");
    audit_.events.clear();
  }

  std::vector<StepUpOp> ops() {
    return {
        {"delete_user", "admin.user.delete",
         [this](const Caller& c) { return err(admin_->delete_user(c, victim_)); }},
        {"add_member", "admin.member.add",
         [this](const Caller& c) { return err(admin_->add_member(c, ta_, nobody_, "member")); }},
        {"set_member_role", "admin.member.role",
         [this](const Caller& c) { return err(admin_->set_member_role(c, ta_, mia_, "manager")); }},
        {"create_client", "admin.client.create",
         [this](const Caller& c) { return err(admin_->create_client(c, ta_, "another")); }},
        {"rotate_client", "admin.client.rotate",
         [this](const Caller& c) { return err(admin_->rotate_client(c, ta_, client_id_)); }},
        {"delete_tenant", "admin.tenant.delete",
         [this](const Caller& c) { return err(admin_->delete_tenant(c, ta_)); }},
    };
  }

  // Nothing any of the operations would change has changed.
  void expect_unchanged() {
    EXPECT_TRUE(store_->raw().users().find_user_by_id(victim_));
    EXPECT_FALSE(role_of(ta_, nobody_));
    EXPECT_EQ(role_of(ta_, mia_).value_or(""), "member");
    EXPECT_TRUE(store_->raw().tenants().find_tenant(ta_));
    auto clients = store_->raw().tenants().list_service_clients(ta_);
    ASSERT_TRUE(clients);
    EXPECT_EQ(clients->size(), 1U);
    EXPECT_TRUE(authz_->authenticate_client(client_id_, client_secret_)) << "the secret was not rotated";
  }

  std::string client_id_, client_secret_, victim_;
};

TEST_F(StepUpTest, AStaleAllowedCallerGetsReauthRequiredAndIsAudited) {
  for (const auto& op : ops()) {
    SCOPED_TRACE(op.name);
    // delete_user is platform-only; the tenant operations are alice's (admin of A).
    const std::string who = std::string(op.name) == "delete_user" ? root_ : alice_;
    audit_.events.clear();
    EXPECT_EQ(op.run(stale(who)), ec(AuthzFailure::ReauthRequired));
    ASSERT_EQ(audit_.events.size(), 1U);
    const auto& e = audit_.events.front();
    EXPECT_EQ(e.action, op.action);
    EXPECT_EQ(e.result, "reauthentication_required");
    EXPECT_EQ(e.actor, who);
    EXPECT_EQ(e.tenant, std::string(op.name) == "delete_user" ? "" : ta_);
    expect_unchanged();
  }
}

TEST_F(StepUpTest, APlatformAdminIsAlsoAskedToStepUpForTenantOperations) {
  for (const auto& op : ops()) {
    SCOPED_TRACE(op.name);
    audit_.events.clear();
    EXPECT_EQ(op.run(stale(root_)), ec(AuthzFailure::ReauthRequired));
    ASSERT_FALSE(audit_.events.empty());
    EXPECT_EQ(audit_.events.back().result, "reauthentication_required");
    expect_unchanged();
  }
}

TEST_F(StepUpTest, WithoutPermissionItIsForbiddenBeforeAnyStepUpCheck) {
  // mia (member), mark (manager: users:read but not users:admin), nobody
  // (not a member), bob (admin of another tenant): all stale.
  for (const std::string& who : {mia_, mark_, nobody_, bob_}) {
    for (const auto& op : ops()) {
      SCOPED_TRACE(std::string(op.name) + " by " + who);
      audit_.events.clear();
      EXPECT_EQ(op.run(stale(who)), ec(AuthzFailure::Forbidden)) << "Forbidden, not ReauthRequired";
      ASSERT_EQ(audit_.events.size(), 1U);
      EXPECT_EQ(audit_.events.front().action, op.action);
      EXPECT_EQ(audit_.events.front().result, "forbidden");
      EXPECT_EQ(audit_.events.front().actor, who);
      // And fresh: still Forbidden.
      EXPECT_EQ(op.run(fresh(who)), ec(AuthzFailure::Forbidden));
      for (const auto& e : audit_.events) EXPECT_NE(e.result, "reauthentication_required");
      expect_unchanged();
    }
  }
}

TEST_F(StepUpTest, AFreshCallerSucceeds) {
  for (const auto& op : ops()) {
    SCOPED_TRACE(op.name);
    const std::string who = std::string(op.name) == "delete_user" ? root_ : alice_;
    audit_.events.clear();
    EXPECT_EQ(op.run(fresh(who)), std::error_code{});
    bool success = false;
    for (const auto& e : audit_.events)
      if (e.result == "success" && e.actor == who) success = true;
    EXPECT_TRUE(success) << "a success event with the caller as actor";
  }
  EXPECT_FALSE(store_->raw().users().find_user_by_id(victim_));
  EXPECT_FALSE(store_->raw().tenants().find_tenant(ta_));
}

TEST_F(StepUpTest, AuthTimeExactlyAtTheEdgeIsRecentEnough) {
  const Caller edge{alice_, clock_.now() - seconds{600}, meta_};
  auto m = admin_->add_member(edge, ta_, nobody_, "member");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(role_of(ta_, nobody_).value_or(""), "member");
  const Caller past{alice_, clock_.now() - seconds{601}, meta_};
  EXPECT_EQ(err(admin_->set_member_role(past, ta_, nobody_, "manager")), ec(AuthzFailure::ReauthRequired));
  EXPECT_EQ(role_of(ta_, nobody_).value_or(""), "member");
}

TEST_F(StepUpTest, OperationsWithoutStepUpWorkForAStaleAdmin) {
  EXPECT_TRUE(admin_->rename_tenant(stale(alice_), ta_, "Acme Corp"));
  EXPECT_TRUE(admin_->list_members(stale(alice_), ta_, std::nullopt, 50));
  EXPECT_TRUE(admin_->remove_member(stale(alice_), ta_, mia_));
  EXPECT_TRUE(admin_->list_clients(stale(alice_), ta_));
  EXPECT_TRUE(admin_->delete_client(stale(alice_), ta_, client_id_));
  EXPECT_TRUE(admin_->set_disabled(stale(root_), victim_, true));
  EXPECT_TRUE(admin_->create_tenant(stale(root_), "New"));
}

// ---- (5) Last admin -------------------------------------------------------------

TEST_F(AuthzTest, TheLastAdminCannotBeRemovedOrDemoted) {
  for (const std::string& who : {alice_, root_}) {
    SCOPED_TRACE(who);
    EXPECT_EQ(err(admin_->remove_member(fresh(who), ta_, alice_)), ec(AuthzFailure::LastAdmin));
    EXPECT_EQ(err(admin_->set_member_role(fresh(who), ta_, alice_, "manager")), ec(AuthzFailure::LastAdmin));
    EXPECT_EQ(err(admin_->set_member_role(fresh(who), ta_, alice_, "member")), ec(AuthzFailure::LastAdmin));
    EXPECT_EQ(role_of(ta_, alice_).value_or(""), "admin");
  }
  // Setting the admin role again is no demotion.
  auto same = admin_->set_member_role(fresh(alice_), ta_, alice_, "admin");
  ASSERT_TRUE(same) << same.error().message();
  EXPECT_EQ(same->membership.role, "admin");
  EXPECT_EQ(same->email, "alice@a.test");
  // Removing or demoting someone who is not an admin is fine.
  EXPECT_TRUE(admin_->set_member_role(fresh(alice_), ta_, mia_, "manager"));
  EXPECT_TRUE(admin_->remove_member(fresh(alice_), ta_, mark_));
}

TEST_F(AuthzTest, WithTwoAdminsOneCanGo) {
  ASSERT_TRUE(admin_->set_member_role(fresh(alice_), ta_, mark_, "admin"));
  auto demoted = admin_->set_member_role(fresh(mark_), ta_, alice_, "member");
  ASSERT_TRUE(demoted) << demoted.error().message();
  EXPECT_EQ(role_of(ta_, alice_).value_or(""), "member");
  // mark is now the only admin.
  EXPECT_EQ(err(admin_->remove_member(fresh(mark_), ta_, mark_)), ec(AuthzFailure::LastAdmin));
  ASSERT_TRUE(admin_->set_member_role(fresh(mark_), ta_, alice_, "admin"));
  ASSERT_TRUE(admin_->remove_member(fresh(alice_), ta_, mark_));
  EXPECT_FALSE(role_of(ta_, mark_));
  EXPECT_EQ(err(admin_->remove_member(fresh(alice_), ta_, alice_)), ec(AuthzFailure::LastAdmin));
}

TEST_F(AuthzTest, AnyRoleThatAdministersUsersCountsAsAnAdmin) {
  auto policy = authz::parse_policy(R"(
resources = ["projects", "users"]
actions = ["read", "admin"]
[roles.admin]
grants = ["*:*"]
[roles.owner]
grants = ["users:admin", "users:read", "projects:read"]
[roles.member]
grants = ["projects:read"]
)");
  ASSERT_TRUE(policy) << policy.error().message();
  make_services(AuthzConfig{}, *policy);
  member(tb_, alice_, "owner");
  // bob (admin) may go: alice (owner) still administers users.
  ASSERT_TRUE(admin_->set_member_role(fresh(alice_), tb_, bob_, "member"));
  EXPECT_EQ(err(admin_->remove_member(fresh(alice_), tb_, alice_)), ec(AuthzFailure::LastAdmin));
  EXPECT_EQ(err(admin_->set_member_role(fresh(alice_), tb_, alice_, "member")), ec(AuthzFailure::LastAdmin));
  // No one grants more than they hold: the owner cannot make anyone (themselves included) an admin.
  EXPECT_EQ(err(admin_->set_member_role(fresh(alice_), tb_, alice_, "admin")), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(admin_->set_member_role(fresh(alice_), tb_, bob_, "admin")), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(role_of(tb_, alice_).value_or(""), "owner");
  ASSERT_TRUE(admin_->set_member_role(fresh(alice_), tb_, bob_, "owner")) << "an owner may grant owner";
}

// ---- (6) Cross-tenant ------------------------------------------------------------

TEST_F(AuthzTest, AnAdminOfOneTenantIsForbiddenInAnother) {
  auto bclient = admin_->create_client(fresh(bob_), tb_, "b-svc");
  ASSERT_TRUE(bclient);
  audit_.events.clear();
  const Caller a = fresh(alice_);
  const std::string absent = "00000000-0000-4000-8000-0000000000ff";
  for (const std::string& t : {tb_, absent}) {
    SCOPED_TRACE(t);
    EXPECT_EQ(err(admin_->get_tenant(a, t)), ec(AuthzFailure::Forbidden));
    EXPECT_EQ(err(admin_->rename_tenant(a, t, "Mine")), ec(AuthzFailure::Forbidden));
    EXPECT_EQ(err(admin_->delete_tenant(a, t)), ec(AuthzFailure::Forbidden));
    EXPECT_EQ(err(admin_->list_members(a, t, std::nullopt, 50)), ec(AuthzFailure::Forbidden));
    EXPECT_EQ(err(admin_->add_member(a, t, alice_, "admin")), ec(AuthzFailure::Forbidden));
    EXPECT_EQ(err(admin_->set_member_role(a, t, bob_, "member")), ec(AuthzFailure::Forbidden));
    EXPECT_EQ(err(admin_->remove_member(a, t, bob_)), ec(AuthzFailure::Forbidden));
    EXPECT_EQ(err(admin_->list_clients(a, t)), ec(AuthzFailure::Forbidden));
    EXPECT_EQ(err(admin_->create_client(a, t, "mine")), ec(AuthzFailure::Forbidden));
    EXPECT_EQ(err(admin_->rotate_client(a, t, bclient->client.id)), ec(AuthzFailure::Forbidden));
    EXPECT_EQ(err(admin_->delete_client(a, t, bclient->client.id)), ec(AuthzFailure::Forbidden));
    EXPECT_EQ(err(admin_->tenant_audit(a, t, store::AuditQuery{})), ec(AuthzFailure::Forbidden));
  }
  // Nothing in B changed.
  EXPECT_EQ(store_->raw().tenants().find_tenant(tb_)->name, "Beta");
  EXPECT_FALSE(role_of(tb_, alice_));
  EXPECT_EQ(role_of(tb_, bob_).value_or(""), "admin");
  EXPECT_EQ(store_->raw().tenants().list_service_clients(tb_)->size(), 1U);
  EXPECT_TRUE(authz_->authenticate_client(bclient->client.id, bclient->secret.expose()));
  // Every refused mutation was audited with actor alice and its tenant.
  const std::set<std::string> mutations = {"admin.tenant.rename",  "admin.tenant.delete", "admin.member.add",
                                           "admin.member.role",    "admin.member.remove", "admin.client.create",
                                           "admin.client.rotate",  "admin.client.delete"};
  std::multiset<std::string> seen;
  for (const auto& e : audit_.events) {
    EXPECT_EQ(e.result, "forbidden") << e.action;
    EXPECT_EQ(e.actor, alice_);
    EXPECT_TRUE(e.tenant == tb_ || e.tenant == absent) << e.tenant;
    seen.insert(e.action);
  }
  for (const auto& m : mutations) EXPECT_EQ(seen.count(m), 2U) << m;
  EXPECT_EQ(seen.size(), 2 * mutations.size()) << "reads are not audited";
}

TEST_F(AuthzTest, APlatformAdminGetsNotFoundForATenantThatDoesNotExist) {
  const std::string absent = "00000000-0000-4000-8000-0000000000ff";
  EXPECT_EQ(err(admin_->get_tenant(fresh(root_), absent)), ec(AuthzFailure::NotFound));
  EXPECT_EQ(err(admin_->rename_tenant(fresh(root_), absent, "x")), ec(AuthzFailure::NotFound));
  EXPECT_EQ(err(admin_->delete_tenant(fresh(root_), absent)), ec(AuthzFailure::NotFound));
  auto view = admin_->get_tenant(fresh(root_), tb_);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->role, "admin");
  EXPECT_EQ(view->tenant.name, "Beta");
}

TEST_F(AuthzTest, AnotherTenantsIdsAreNotFoundInYourTenant) {
  auto bclient = admin_->create_client(fresh(bob_), tb_, "b-svc");
  ASSERT_TRUE(bclient);
  const Caller a = fresh(alice_);
  EXPECT_EQ(err(admin_->rotate_client(a, ta_, bclient->client.id)), ec(AuthzFailure::NotFound));
  EXPECT_EQ(err(admin_->delete_client(a, ta_, bclient->client.id)), ec(AuthzFailure::NotFound));
  EXPECT_EQ(err(admin_->rotate_client(a, ta_, "svc_nosuchclient")), ec(AuthzFailure::NotFound));
  EXPECT_EQ(err(admin_->set_member_role(a, ta_, bob_, "member")), ec(AuthzFailure::NotFound));
  EXPECT_EQ(err(admin_->set_member_role(a, ta_, bob_, "admin")), ec(AuthzFailure::NotFound));
  EXPECT_EQ(err(admin_->remove_member(a, ta_, bob_)), ec(AuthzFailure::NotFound));
  EXPECT_EQ(err(admin_->remove_member(a, ta_, "00000000-0000-4000-8000-00000000dead")), ec(AuthzFailure::NotFound));
  // B is untouched.
  EXPECT_TRUE(authz_->authenticate_client(bclient->client.id, bclient->secret.expose()));
  EXPECT_EQ(role_of(tb_, bob_).value_or(""), "admin");
  // A platform admin too gets NotFound for B's client through A.
  EXPECT_EQ(err(admin_->delete_client(fresh(root_), ta_, bclient->client.id)), ec(AuthzFailure::NotFound));
  EXPECT_TRUE(store_->raw().tenants().find_service_client(bclient->client.id));
}

TEST_F(AuthzTest, TenantAuditReturnsOnlyThatTenantsRows) {
  ASSERT_TRUE(admin_->rename_tenant(fresh(alice_), ta_, "Acme 2"));
  ASSERT_TRUE(admin_->rename_tenant(fresh(bob_), tb_, "Beta 2"));
  ASSERT_FALSE(admin_->rename_tenant(fresh(alice_), tb_, "mine"));  // a forbidden row in B, by alice
  ASSERT_TRUE(admin_->create_client(fresh(bob_), tb_, "b"));
  ASSERT_TRUE(admin_->create_tenant(fresh(root_), "Gamma"));
  ASSERT_TRUE(admin_->add_member(fresh(alice_), ta_, nobody_, "member"));

  auto page = admin_->tenant_audit(fresh(alice_), ta_, store::AuditQuery{});
  ASSERT_TRUE(page) << page.error().message();
  EXPECT_EQ(page->events.size(), 2U);
  for (const auto& e : page->events) EXPECT_EQ(e.tenant, ta_);
  // Asking for another tenant's rows through the query gets this tenant's.
  store::AuditQuery q;
  q.tenant = tb_;
  auto sneaky = admin_->tenant_audit(fresh(alice_), ta_, q);
  ASSERT_TRUE(sneaky);
  EXPECT_EQ(sneaky->events.size(), 2U);
  for (const auto& e : sneaky->events) EXPECT_EQ(e.tenant, ta_);
  // Filtering by alice (who has a row in B) still only shows A's rows.
  store::AuditQuery by_alice;
  by_alice.user = alice_;
  auto mine = admin_->tenant_audit(fresh(alice_), ta_, by_alice);
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->events.size(), 2U);
  for (const auto& e : mine->events) EXPECT_EQ(e.tenant, ta_);
  // B's admin sees B's rows, including alice's refused attempt.
  auto b = admin_->tenant_audit(fresh(bob_), tb_, store::AuditQuery{});
  ASSERT_TRUE(b);
  ASSERT_EQ(b->events.size(), 3U);
  for (const auto& e : b->events) EXPECT_EQ(e.tenant, tb_);
  // Paging.
  store::AuditQuery one;
  one.limit = 1;
  auto p1 = admin_->tenant_audit(fresh(bob_), tb_, one);
  ASSERT_TRUE(p1);
  ASSERT_EQ(p1->events.size(), 1U);
  ASSERT_TRUE(p1->next_cursor);
  one.after_id = *p1->next_cursor;
  auto p2 = admin_->tenant_audit(fresh(bob_), tb_, one);
  ASSERT_TRUE(p2);
  ASSERT_EQ(p2->events.size(), 1U);
  EXPECT_GT(p2->events.front().id, p1->events.front().id);
  EXPECT_EQ(p2->events.front().tenant, tb_);

  // "" would mean every tenant to the store: refused, even to a platform admin.
  EXPECT_EQ(err(admin_->tenant_audit(fresh(alice_), "", store::AuditQuery{})), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(admin_->tenant_audit(fresh(root_), "", store::AuditQuery{})), ec(AuthzFailure::Forbidden));
  // A manager (users:read only) may not read the tenant's audit.
  EXPECT_EQ(err(admin_->tenant_audit(fresh(mark_), ta_, store::AuditQuery{})), ec(AuthzFailure::Forbidden));
}

// ---- (7) Tenant tokens -----------------------------------------------------------

TEST_F(AuthzTest, AMemberGetsATokenWithTheRoleClaim) {
  const Seconds auth_time = clock_.now() - seconds{120};
  const AccessClaims caller = sign_in(mark_, auth_time);
  EXPECT_EQ(caller.tenant, "");
  clock_.advance(seconds{30});
  auto t = authz_->tenant_token(caller, ta_, meta_);
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->tenant, ta_);
  EXPECT_EQ(t->role, "manager");
  // Never later than the token it was exchanged for (30 s of its 900 are gone).
  EXPECT_EQ(t->expires_in, seconds{870});
  auto v = tokens_->verify_access(t->access_token);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->sub, mark_);
  EXPECT_EQ(v->sid, caller.sid);
  EXPECT_EQ(v->client_id, caller.client_id);
  EXPECT_EQ(v->tenant, ta_);
  EXPECT_EQ(v->role, "manager");
  EXPECT_EQ(v->auth_time, auth_time) << "auth_time preserved, not renewed";
  EXPECT_EQ(v->iat, clock_.now());
  EXPECT_LE(v->exp, clock_.now() + seconds{900});
  EXPECT_NE(v->jti, caller.jti);
  auto ev = audit_.with("token.tenant");
  ASSERT_EQ(ev.size(), 1U);
  EXPECT_EQ(ev.front().result, "success");
  EXPECT_EQ(ev.front().actor, mark_);
  EXPECT_EQ(ev.front().tenant, ta_);

  // Switching tenant = asking again; the role is the current one.
  ASSERT_TRUE(admin_->set_member_role(fresh(alice_), ta_, mark_, "member"));
  auto again = authz_->tenant_token(*v, ta_, meta_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->role, "member");
  EXPECT_EQ(tokens_->verify_access(again->access_token)->auth_time, auth_time);
}

TEST_F(AuthzTest, ANonMemberIsForbiddenATenantToken) {
  for (const std::string& who : {nobody_, bob_}) {
    const AccessClaims caller = sign_in(who, Seconds{});
    audit_.events.clear();
    EXPECT_EQ(err(authz_->tenant_token(caller, ta_, meta_)), ec(AuthzFailure::Forbidden));
    ASSERT_EQ(audit_.events.size(), 1U);
    EXPECT_EQ(audit_.events.front().action, "token.tenant");
    EXPECT_EQ(audit_.events.front().result, "forbidden");
    EXPECT_EQ(audit_.events.front().actor, who);
    EXPECT_EQ(audit_.events.front().tenant, ta_);
  }
  // No such tenant: the same answer.
  const AccessClaims caller = sign_in(alice_, Seconds{});
  EXPECT_EQ(err(authz_->tenant_token(caller, "00000000-0000-4000-8000-0000000000ff", meta_)),
            ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(authz_->tenant_token(caller, "", meta_)), ec(AuthzFailure::Forbidden));
  // A member who was disabled since signing in.
  const AccessClaims m = sign_in(mia_, Seconds{});
  ASSERT_TRUE(admin_->set_disabled(fresh(root_), mia_, true));
  EXPECT_EQ(err(authz_->tenant_token(m, ta_, meta_)), ec(AuthzFailure::Forbidden));
}

TEST_F(AuthzTest, APlatformAdminGetsAdminOnlyForAnExistingTenant) {
  const Seconds auth_time = clock_.now() - seconds{5};
  const AccessClaims caller = sign_in(root_, auth_time);
  auto t = authz_->tenant_token(caller, tb_, meta_);
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->role, "admin");
  auto v = tokens_->verify_access(t->access_token);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->tenant, tb_);
  EXPECT_EQ(v->role, "admin");
  EXPECT_EQ(v->auth_time, auth_time);
  EXPECT_EQ(err(authz_->tenant_token(caller, "00000000-0000-4000-8000-0000000000ff", meta_)),
            ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(authz_->tenant_token(caller, "", meta_)), ec(AuthzFailure::Forbidden));
  // A platform admin who is a member gets the membership's role.
  member(ta_, root_, "member");
  auto m = authz_->tenant_token(caller, ta_, meta_);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->role, "member");
  // A tenant deleted meanwhile: forbidden.
  ASSERT_TRUE(admin_->delete_tenant(fresh(root_), tb_));
  EXPECT_EQ(err(authz_->tenant_token(caller, tb_, meta_)), ec(AuthzFailure::Forbidden));
}

// ---- (8) Audit and the rest of the admin API -------------------------------------

TEST_F(AuthzTest, RefusedAndSuccessfulMutationsAreAuditedWithTheCallerAsActor) {
  // Refused: a member renaming the tenant.
  EXPECT_EQ(err(admin_->rename_tenant(fresh(mia_), ta_, "Mine")), ec(AuthzFailure::Forbidden));
  ASSERT_EQ(audit_.events.size(), 1U);
  EXPECT_EQ(audit_.events.back().action, "admin.tenant.rename");
  EXPECT_EQ(audit_.events.back().result, "forbidden");
  EXPECT_EQ(audit_.events.back().actor, mia_);
  EXPECT_EQ(audit_.events.back().subject, ta_);
  EXPECT_EQ(audit_.events.back().tenant, ta_);
  EXPECT_EQ(audit_.events.back().meta.request_id, "req-1");
  EXPECT_EQ(audit_.events.back().time, clock_.now());

  // Successful: the admin renaming it.
  auto renamed = admin_->rename_tenant(fresh(alice_), ta_, "Acme Corp");
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->name, "Acme Corp");
  EXPECT_EQ(audit_.events.back().action, "admin.tenant.rename");
  EXPECT_EQ(audit_.events.back().result, "success");
  EXPECT_EQ(audit_.events.back().actor, alice_);
  EXPECT_EQ(audit_.events.back().tenant, ta_);

  auto added = admin_->add_member(fresh(alice_), ta_, nobody_, "member");
  ASSERT_TRUE(added);
  EXPECT_EQ(added->email, "nobody@x.test");
  EXPECT_EQ(audit_.events.back().action, "admin.member.add");
  EXPECT_EQ(audit_.events.back().subject, nobody_);
  EXPECT_EQ(audit_.events.back().tenant, ta_);
  EXPECT_EQ(audit_.events.back().actor, alice_);

  ASSERT_TRUE(admin_->remove_member(fresh(alice_), ta_, nobody_));
  EXPECT_EQ(audit_.events.back().action, "admin.member.remove");
  EXPECT_EQ(audit_.events.back().result, "success");
  EXPECT_EQ(audit_.events.back().subject, nobody_);
  EXPECT_EQ(audit_.events.back().tenant, ta_);

  // Platform-only operations refused to a tenant admin, audited.
  const std::size_t n = audit_.events.size();
  EXPECT_EQ(err(admin_->set_disabled(fresh(alice_), mia_, true)), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(admin_->set_disabled(fresh(alice_), mia_, false)), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(admin_->logout_user(fresh(alice_), mia_)), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(admin_->unlock_user(fresh(alice_), mia_)), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(admin_->delete_user(fresh(alice_), mia_)), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(admin_->create_tenant(fresh(alice_), "Mine")), ec(AuthzFailure::Forbidden));
  const std::vector<std::string> want = {"admin.user.disable", "admin.user.enable", "admin.user.logout",
                                         "admin.user.unlock",  "admin.user.delete", "admin.tenant.create"};
  ASSERT_EQ(audit_.events.size(), n + want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto& e = audit_.events[n + i];
    EXPECT_EQ(e.action, want[i]);
    EXPECT_EQ(e.result, "forbidden");
    EXPECT_EQ(e.actor, alice_);
    if (want[i] != "admin.tenant.create") {
      EXPECT_EQ(e.subject, mia_);
    }
  }
  EXPECT_FALSE(store_->raw().users().find_user_by_id(mia_)->disabled);

  // Reads are not audited, allowed or not.
  const std::size_t m = audit_.events.size();
  EXPECT_EQ(err(admin_->list_users(fresh(alice_), std::nullopt, 50, std::nullopt)), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(admin_->get_user(fresh(alice_), mia_)), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(admin_->query_audit(fresh(alice_), store::AuditQuery{})), ec(AuthzFailure::Forbidden));
  EXPECT_EQ(err(admin_->list_members(fresh(mia_), ta_, std::nullopt, 50)), ec(AuthzFailure::Forbidden));
  EXPECT_TRUE(admin_->list_members(fresh(mark_), ta_, std::nullopt, 50));
  EXPECT_EQ(audit_.events.size(), m);
}

TEST_F(AuthzTest, PlatformOperationsByAPlatformAdmin) {
  auto t = admin_->create_tenant(fresh(root_), "  Gamma  ");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->name, "Gamma");
  EXPECT_EQ(t->id.size(), 36U);
  EXPECT_EQ(audit_.events.back().action, "admin.tenant.create");
  EXPECT_EQ(audit_.events.back().result, "success");
  EXPECT_EQ(audit_.events.back().actor, root_);
  EXPECT_EQ(audit_.events.back().tenant, t->id);

  auto detail = admin_->get_user(fresh(root_), alice_);
  ASSERT_TRUE(detail);
  EXPECT_FALSE(detail->platform_admin);
  ASSERT_EQ(detail->memberships.size(), 1U);
  EXPECT_EQ(detail->memberships.front().tenant_id, ta_);
  EXPECT_EQ(detail->memberships.front().role, "admin");
  EXPECT_TRUE(admin_->get_user(fresh(root_), root_)->platform_admin);
  EXPECT_EQ(err(admin_->get_user(fresh(root_), "00000000-0000-4000-8000-00000000dead")), ec(AuthzFailure::NotFound));
  auto users = admin_->list_users(fresh(root_), std::nullopt, 50, std::string("a.test"));
  ASSERT_TRUE(users);
  EXPECT_EQ(users->users.size(), 4U);  // alice, mark, mia, dave

  // Disable / enable / delete: audited with the caller as actor.
  ASSERT_TRUE(admin_->set_disabled(fresh(root_), mia_, true));
  EXPECT_EQ(audit_.events.back().action, "user.disable");
  EXPECT_EQ(audit_.events.back().actor, root_);
  EXPECT_EQ(audit_.events.back().subject, mia_);
  EXPECT_TRUE(store_->raw().users().find_user_by_id(mia_)->disabled);
  ASSERT_TRUE(admin_->set_disabled(fresh(root_), mia_, false));
  EXPECT_FALSE(store_->raw().users().find_user_by_id(mia_)->disabled);
  EXPECT_EQ(err(admin_->set_disabled(fresh(root_), "00000000-0000-4000-8000-00000000dead", true)),
            ec(AuthzFailure::NotFound));
  EXPECT_TRUE(admin_->unlock_user(fresh(root_), mia_));
  EXPECT_TRUE(admin_->logout_user(fresh(root_), mia_));
  EXPECT_EQ(audit_.events.back().action, "admin.user.logout");
  EXPECT_EQ(audit_.events.back().actor, root_);
  EXPECT_EQ(err(admin_->logout_user(fresh(root_), "00000000-0000-4000-8000-00000000dead")), ec(AuthzFailure::NotFound));
  ASSERT_TRUE(admin_->delete_user(fresh(root_), mia_));
  EXPECT_EQ(audit_.events.back().action, "user.delete");
  EXPECT_EQ(audit_.events.back().actor, root_);
  EXPECT_FALSE(role_of(ta_, mia_)) << "memberships go with the user";
  EXPECT_EQ(err(admin_->delete_user(fresh(root_), mia_)), ec(AuthzFailure::NotFound));

  auto all = admin_->query_audit(fresh(root_), store::AuditQuery{});
  ASSERT_TRUE(all);
  EXPECT_FALSE(all->events.empty());
}

TEST_F(AuthzTest, ValidationErrors) {
  const Caller a = fresh(alice_);
  EXPECT_EQ(err(admin_->add_member(a, ta_, nobody_, "emperor")), ec(AuthzFailure::UnknownRole));
  EXPECT_EQ(err(admin_->set_member_role(a, ta_, mia_, "emperor")), ec(AuthzFailure::UnknownRole));
  EXPECT_EQ(err(admin_->add_member(a, ta_, mia_, "member")), ec(AuthzFailure::AlreadyMember));
  EXPECT_EQ(err(admin_->add_member(a, ta_, "ghost@x.test", "member")), ec(AuthzFailure::NotFound));
  EXPECT_EQ(err(admin_->add_member(a, ta_, "00000000-0000-4000-8000-00000000dead", "member")),
            ec(AuthzFailure::NotFound));
  EXPECT_EQ(err(admin_->rename_tenant(a, ta_, "")), ec(AuthzFailure::InvalidName));
  EXPECT_EQ(err(admin_->rename_tenant(a, ta_, std::string(101, 'x'))), ec(AuthzFailure::InvalidName));
  EXPECT_EQ(err(admin_->rename_tenant(a, ta_, "bad\nname")), ec(AuthzFailure::InvalidName));
  EXPECT_TRUE(admin_->rename_tenant(a, ta_, std::string(100, 'x')));
  EXPECT_EQ(err(admin_->create_client(a, ta_, "")), ec(AuthzFailure::InvalidName));
  EXPECT_EQ(err(admin_->create_client(a, ta_, "tab\there")), ec(AuthzFailure::InvalidName));
  EXPECT_EQ(err(admin_->create_tenant(fresh(root_), "   ")), ec(AuthzFailure::InvalidName));
  EXPECT_EQ(store_->raw().tenants().list_service_clients(ta_)->size(), 0U);
  EXPECT_FALSE(role_of(ta_, nobody_));
  EXPECT_EQ(role_of(ta_, mia_).value_or(""), "member");
}

TEST_F(AuthzTest, TenantViews) {
  auto mine = admin_->tenants_of(fresh(mark_));
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->size(), 1U);
  EXPECT_EQ(mine->front().tenant.id, ta_);
  EXPECT_EQ(mine->front().role, "manager");
  auto none = admin_->tenants_of(fresh(nobody_));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  member(tb_, root_, "member");
  auto all = admin_->tenants_of(fresh(root_));
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2U);
  for (const auto& v : *all) EXPECT_EQ(v.role, v.tenant.id == tb_ ? "member" : "admin");

  auto v = admin_->get_tenant(fresh(mia_), ta_);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->role, "member");
  EXPECT_EQ(v->tenant.name, "Acme");
  EXPECT_EQ(err(admin_->get_tenant(fresh(dave_), ta_)), ec(AuthzFailure::Forbidden)) << "disabled";

  auto members = admin_->list_members(fresh(mark_), ta_, std::nullopt, 2);
  ASSERT_TRUE(members);
  EXPECT_EQ(members->members.size(), 2U);
  ASSERT_TRUE(members->next_cursor);
  auto rest = admin_->list_members(fresh(mark_), ta_, members->next_cursor, 200);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->members.size(), 2U);  // alice, mark, mia, dave
  EXPECT_FALSE(rest->next_cursor);
  std::set<std::string> emails;
  for (const auto* page : {&*members, &*rest})
    for (const auto& m : page->members) emails.insert(m.email);
  EXPECT_EQ(emails, (std::set<std::string>{"alice@a.test", "mark@a.test", "mia@a.test", "dave@a.test"}));
}

// A grant that makes the MFA policy (admin role by default) apply to a user without a factor
// ends that user's tokens; other grants, and users with a factor, keep theirs.
TEST_F(AuthzTest, AGrantThatMakesMfaRequiredEndsAFactorlessUsersTokens) {
  MfaService mfa(*store_, *kek_, clock_, rng_, audit_, MfaConfig{});
  admin_ = std::make_unique<AdminService>(*store_, *accounts_, *authz_, clock_, rng_, audit_, &mfa);
  auto mia_token = tokens_->issue(*store_->raw().users().find_user_by_id(mia_), clock_.now(),
                                  "cli-app", "pwd", meta_);
  ASSERT_TRUE(mia_token);
  // manager is not in mfa.required_roles: nothing ends.
  ASSERT_TRUE(admin_->set_member_role(fresh(alice_), ta_, mark_, "manager"));
  EXPECT_TRUE(tokens_->verify_access(tokens_
                                         ->issue(*store_->raw().users().find_user_by_id(mark_),
                                                 clock_.now(), "cli-app", "pwd", meta_)
                                         ->access_token));
  // mia becomes admin without a factor: her refresh family is revoked.
  ASSERT_TRUE(admin_->set_member_role(fresh(alice_), ta_, mia_, "admin"));
  EXPECT_FALSE(tokens_->refresh(mia_token->refresh_token, meta_)) << "refresh family ended";
  EXPECT_FALSE(tokens_->verify_access(mia_token->access_token)) << "its access token denied";
  const bool audited = std::ranges::any_of(audit_.events, [&](const AuditEvent& e) {
    return e.action == "mfa.policy_logout" && e.result == "role_grant" && e.subject == mia_ &&
           e.actor == alice_;
  });
  EXPECT_TRUE(audited);
  // A new member added as admin: the same. Step-up refuses her password alone.
  auto nobody = store_->raw().users().find_user_by_id(nobody_);
  auto n_token = tokens_->issue(*nobody, clock_.now(), "cli-app", "pwd", meta_);
  ASSERT_TRUE(n_token);
  ASSERT_TRUE(admin_->add_member(fresh(alice_), ta_, nobody_, "admin"));
  EXPECT_FALSE(tokens_->refresh(n_token->refresh_token, meta_));
  EXPECT_EQ(mfa.step_up(*nobody, {}, meta_).error().code,
            make_error_code(MfaError::EnrollmentRequired));
  // Tokens that outlived the grant (say its session ending failed): repeating the grant is
  // refused as already_member and ends them.
  auto leftover = tokens_->issue(*nobody, clock_.now(), "cli-app", "pwd", meta_);
  ASSERT_TRUE(leftover);
  EXPECT_EQ(err(admin_->add_member(fresh(alice_), ta_, nobody_, "admin")), ec(AuthzFailure::AlreadyMember));
  EXPECT_FALSE(tokens_->refresh(leftover->refresh_token, meta_)) << "ended by the repeated grant";
}

}  // namespace
}  // namespace gh::service
