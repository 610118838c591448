// The TenantStore contract (store/tenant_store.h), run against every backend
// in store_harness.h. Each test starts on its own empty, migrated database.
#include "store/tenant_store.h"

#include <latch>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "conformance/store_harness.h"
#include "store/store.h"

namespace gh::store::testing {
namespace {

using std::chrono::seconds;

const Seconds kT0{seconds{1'900'000'000}};

User make_user(const std::string& id) {
  User u;
  u.id = id;
  u.email = id + "@example.com";
  u.email_normalized = u.email;
  u.created_at = kT0;
  u.updated_at = kT0;
  return u;
}

Tenant make_tenant(std::string id, std::string name = "Acme \"Corp\" \xe2\x98\x83 '; DROP TABLE tenants; --") {
  return Tenant{std::move(id), std::move(name), kT0, kT0};
}

Membership member(std::string tenant, std::string user, std::string role) {
  return Membership{std::move(tenant), std::move(user), std::move(role), kT0, kT0};
}

ServiceClient client(std::string id, std::string tenant) {
  return ServiceClient{std::move(id), std::move(tenant), "billing worker", std::string(64, 'a'), kT0, kT0};
}

bool not_found(const Status& s) { return !s && s.error().code == make_error_code(StoreError::NotFound); }
bool conflict(const Status& s) { return !s && s.error().code == make_error_code(StoreError::Conflict); }

class TenantStoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    harness_->set_up();
    if (HasFatalFailure()) return;
    store_ = open_migrated(*harness_);
    ASSERT_NE(store_, nullptr);
    for (const char* id : {"u1", "u2", "u3"}) ASSERT_TRUE(store_->users().create_user(make_user(id)));
  }
  void TearDown() override {
    more_.clear();
    store_.reset();
    harness_.reset();
  }
  TenantStore& tenants() { return store_->tenants(); }

  // As in the identity and MFA suites: on a shared backend the two callers of
  // a race use two Stores, as two server processes would.
  std::vector<Store*> racing_stores() {
    std::vector<Store*> stores{store_.get()};
    if (!GetParam().shared) return stores;
    more_.push_back(open_migrated(*harness_));
    EXPECT_NE(more_.back(), nullptr);
    if (more_.back() == nullptr) return {};
    stores.push_back(more_.back().get());
    return stores;
  }

  std::unique_ptr<Harness> harness_;
  std::unique_ptr<Store> store_;
  std::vector<std::unique_ptr<Store>> more_;
};

const std::vector<std::string> kAdminRoles = {"admin", "owner"};

TEST_P(TenantStoreConformance, CreateFindRenameKeepEveryFieldExactly) {
  const Tenant t = make_tenant("t1");
  ASSERT_TRUE(tenants().create_tenant(t));
  EXPECT_TRUE(conflict(tenants().create_tenant(make_tenant("t1", "other"))));
  auto found = tenants().find_tenant("t1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, "t1");
  EXPECT_EQ(found->name, t.name);
  EXPECT_EQ(found->created_at, kT0);
  const auto other_case = tenants().find_tenant("T1");  // ids are exact
  ASSERT_FALSE(other_case);
  EXPECT_EQ(other_case.error().code, make_error_code(StoreError::NotFound));
  ASSERT_TRUE(tenants().rename_tenant("t1", "Renamed", kT0 + seconds{5}));
  found = tenants().find_tenant("t1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "Renamed");
  EXPECT_EQ(found->updated_at, kT0 + seconds{5});
  EXPECT_TRUE(not_found(tenants().rename_tenant("nope", "x", kT0)));
}

TEST_P(TenantStoreConformance, ListTenantsPagesByCursorInIdOrder) {
  for (const char* id : {"t3", "t1", "t5", "t2", "t4"}) ASSERT_TRUE(tenants().create_tenant(make_tenant(id)));
  std::vector<std::string> seen;
  std::optional<std::string> after;
  for (int guard = 0; guard < 10; ++guard) {
    auto page = tenants().list_tenants(after, 2);
    ASSERT_TRUE(page);
    for (const auto& t : page->tenants) seen.push_back(t.id);
    if (!page->next_cursor) break;
    EXPECT_EQ(page->tenants.size(), 2U);
    after = page->next_cursor;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"t1", "t2", "t3", "t4", "t5"}));
  auto exact = tenants().list_tenants(std::nullopt, 5);
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->tenants.size(), 5U);
  EXPECT_FALSE(exact->next_cursor);  // no empty last page
}

TEST_P(TenantStoreConformance, MembershipsAddChangeRemove) {
  ASSERT_TRUE(tenants().create_tenant(make_tenant("t1")));
  ASSERT_TRUE(tenants().create_tenant(make_tenant("t2")));
  ASSERT_TRUE(tenants().add_member(member("t1", "u1", "admin")));
  ASSERT_TRUE(tenants().add_member(member("t2", "u1", "member")));
  ASSERT_TRUE(tenants().add_member(member("t1", "u2", "member")));
  EXPECT_TRUE(conflict(tenants().add_member(member("t1", "u1", "member"))));
  EXPECT_TRUE(not_found(tenants().add_member(member("nope", "u1", "member"))));
  EXPECT_TRUE(not_found(tenants().add_member(member("t1", "ghost", "member"))));

  auto m = tenants().find_membership("t1", "u1");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->role, "admin");
  EXPECT_EQ(m->created_at, kT0);
  EXPECT_FALSE(tenants().find_membership("t1", "u3"));
  EXPECT_FALSE(tenants().find_membership("t2", "u2"));  // a member of t1 is not a member of t2

  ASSERT_TRUE(tenants().set_member_role("t1", "u2", "manager", kT0 + seconds{3}, {}));
  m = tenants().find_membership("t1", "u2");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->role, "manager");
  EXPECT_EQ(m->updated_at, kT0 + seconds{3});
  EXPECT_TRUE(not_found(tenants().set_member_role("t2", "u2", "admin", kT0, {})));  // never creates

  auto of = tenants().memberships_of("u1");
  ASSERT_TRUE(of);
  ASSERT_EQ(of->size(), 2U);
  EXPECT_EQ((*of)[0].tenant_id, "t1");
  EXPECT_EQ((*of)[1].tenant_id, "t2");
  EXPECT_EQ((*of)[1].role, "member");

  ASSERT_TRUE(tenants().remove_member("t1", "u1", {}));
  EXPECT_TRUE(not_found(tenants().remove_member("t1", "u1", {})));
  EXPECT_FALSE(tenants().find_membership("t1", "u1"));
  EXPECT_TRUE(tenants().find_membership("t2", "u1"));
}

TEST_P(TenantStoreConformance, TheLastHolderOfAnAdminRoleCannotBeDemotedOrRemoved) {
  ASSERT_TRUE(tenants().create_tenant(make_tenant("t1")));
  ASSERT_TRUE(tenants().add_member(member("t1", "u1", "admin")));
  ASSERT_TRUE(tenants().add_member(member("t1", "u2", "member")));
  EXPECT_TRUE(conflict(tenants().set_member_role("t1", "u1", "member", kT0, kAdminRoles)));
  EXPECT_TRUE(conflict(tenants().remove_member("t1", "u1", kAdminRoles)));
  EXPECT_EQ(tenants().find_membership("t1", "u1")->role, "admin");
  // Moving between admin roles, and changing or removing non-admins, is fine.
  ASSERT_TRUE(tenants().set_member_role("t1", "u1", "owner", kT0, kAdminRoles));
  ASSERT_TRUE(tenants().set_member_role("t1", "u2", "manager", kT0, kAdminRoles));
  ASSERT_TRUE(tenants().remove_member("t1", "u2", kAdminRoles));
  // Another holder (of either admin role) lets the first one go.
  ASSERT_TRUE(tenants().add_member(member("t1", "u3", "admin")));
  ASSERT_TRUE(tenants().remove_member("t1", "u1", kAdminRoles));
  EXPECT_TRUE(conflict(tenants().set_member_role("t1", "u3", "member", kT0, kAdminRoles)));
  // A missing member is NotFound; without admin_roles nothing is guarded.
  EXPECT_TRUE(not_found(tenants().remove_member("t1", "u1", kAdminRoles)));
  EXPECT_TRUE(not_found(tenants().set_member_role("t9", "u1", "member", kT0, kAdminRoles)));
  ASSERT_TRUE(tenants().set_member_role("t1", "u3", "member", kT0, {}));
}

TEST_P(TenantStoreConformance, TwoAdminsDemotingEachOtherAtOnceLeaveOneAdmin) {
  constexpr int kRounds = 10;
  const std::vector<Store*> stores = racing_stores();
  ASSERT_FALSE(stores.empty());
  for (int round = 0; round < kRounds; ++round) {
    const std::string t = fmt::format("race-{}", round);
    ASSERT_TRUE(tenants().create_tenant(make_tenant(t)));
    ASSERT_TRUE(tenants().add_member(member(t, "u1", "admin")));
    ASSERT_TRUE(tenants().add_member(member(t, "u2", "admin")));
    std::latch go(2);
    Status ra = fail(StoreError::Internal), rb = fail(StoreError::Internal);
    // One demotes u2 while the other removes u1: each alone is allowed.
    std::thread ta([&] {
      go.arrive_and_wait();
      ra = stores[0]->tenants().set_member_role(t, "u2", "member", kT0, kAdminRoles);
    });
    std::thread tb([&] {
      go.arrive_and_wait();
      rb = stores[1 % stores.size()]->tenants().remove_member(t, "u1", kAdminRoles);
    });
    ta.join();
    tb.join();
    EXPECT_NE(ra.has_value(), rb.has_value()) << "round " << round;
    const Status& loser = ra ? rb : ra;
    if (!loser) {
      EXPECT_TRUE(conflict(loser)) << loser.error().message();
    }
    const auto page = tenants().list_members(t, std::nullopt, 10);
    ASSERT_TRUE(page);
    int admins = 0;
    for (const auto& m : page->members) admins += m.role == "admin" ? 1 : 0;
    EXPECT_EQ(admins, 1) << "round " << round;
  }
}

TEST_P(TenantStoreConformance, ListMembersPagesWithinOneTenantOnly) {
  ASSERT_TRUE(tenants().create_tenant(make_tenant("t1")));
  ASSERT_TRUE(tenants().create_tenant(make_tenant("t2")));
  for (const char* u : {"u3", "u1", "u2"}) ASSERT_TRUE(tenants().add_member(member("t1", u, "member")));
  ASSERT_TRUE(tenants().add_member(member("t2", "u1", "admin")));
  auto first = tenants().list_members("t1", std::nullopt, 2);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->members.size(), 2U);
  EXPECT_EQ(first->members[0].user_id, "u1");
  EXPECT_EQ(first->members[1].user_id, "u2");
  ASSERT_TRUE(first->next_cursor);
  auto second = tenants().list_members("t1", *first->next_cursor, 2);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->members.size(), 1U);
  EXPECT_EQ(second->members[0].user_id, "u3");
  EXPECT_EQ(second->members[0].tenant_id, "t1");
  EXPECT_FALSE(second->next_cursor);
  auto none = tenants().list_members("nope", std::nullopt, 10);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->members.empty());
}

TEST_P(TenantStoreConformance, DeletingATenantDeletesItsMembershipsAndClientsOnly) {
  ASSERT_TRUE(tenants().create_tenant(make_tenant("t1")));
  ASSERT_TRUE(tenants().create_tenant(make_tenant("t2")));
  ASSERT_TRUE(tenants().add_member(member("t1", "u1", "admin")));
  ASSERT_TRUE(tenants().add_member(member("t2", "u1", "admin")));
  ASSERT_TRUE(tenants().create_service_client(client("svc_1", "t1")));
  ASSERT_TRUE(tenants().create_service_client(client("svc_2", "t2")));
  ASSERT_TRUE(tenants().delete_tenant("t1"));
  EXPECT_TRUE(not_found(tenants().delete_tenant("t1")));
  EXPECT_FALSE(tenants().find_tenant("t1"));
  EXPECT_FALSE(tenants().find_membership("t1", "u1"));
  EXPECT_FALSE(tenants().find_service_client("svc_1"));
  EXPECT_TRUE(tenants().find_membership("t2", "u1"));
  EXPECT_TRUE(tenants().find_service_client("svc_2"));
  EXPECT_TRUE(store_->users().find_user_by_id("u1"));  // users outlive their tenants
  // A re-created tenant with the same id starts empty.
  ASSERT_TRUE(tenants().create_tenant(make_tenant("t1")));
  EXPECT_FALSE(tenants().find_membership("t1", "u1"));
}

TEST_P(TenantStoreConformance, DeletingAUserDeletesTheirMembershipsAndAdminGrant) {
  ASSERT_TRUE(tenants().create_tenant(make_tenant("t1")));
  ASSERT_TRUE(tenants().add_member(member("t1", "u1", "admin")));
  ASSERT_TRUE(tenants().add_member(member("t1", "u2", "member")));
  ASSERT_TRUE(tenants().set_platform_admin("u1", true, kT0));
  ASSERT_TRUE(store_->users().delete_user("u1"));
  EXPECT_FALSE(tenants().find_membership("t1", "u1"));
  auto admin = tenants().is_platform_admin("u1");
  ASSERT_TRUE(admin);
  EXPECT_FALSE(*admin);
  EXPECT_TRUE(tenants().find_membership("t1", "u2"));
  // A new user that reuses the id inherits nothing.
  ASSERT_TRUE(store_->users().create_user(make_user("u1")));
  admin = tenants().is_platform_admin("u1");
  ASSERT_TRUE(admin);
  EXPECT_FALSE(*admin);
  auto of = tenants().memberships_of("u1");
  ASSERT_TRUE(of);
  EXPECT_TRUE(of->empty());
}

TEST_P(TenantStoreConformance, PlatformAdminGrantAndWithdraw) {
  auto admin = tenants().is_platform_admin("u1");
  ASSERT_TRUE(admin);
  EXPECT_FALSE(*admin);
  ASSERT_TRUE(tenants().set_platform_admin("u1", true, kT0));
  ASSERT_TRUE(tenants().set_platform_admin("u1", true, kT0));  // idempotent
  admin = tenants().is_platform_admin("u1");
  ASSERT_TRUE(admin);
  EXPECT_TRUE(*admin);
  admin = tenants().is_platform_admin("u2");
  ASSERT_TRUE(admin);
  EXPECT_FALSE(*admin);
  EXPECT_TRUE(not_found(tenants().set_platform_admin("ghost", true, kT0)));
  ASSERT_TRUE(tenants().set_platform_admin("u1", false, kT0));
  ASSERT_TRUE(tenants().set_platform_admin("u1", false, kT0));  // idempotent
  admin = tenants().is_platform_admin("u1");
  ASSERT_TRUE(admin);
  EXPECT_FALSE(*admin);
}

TEST_P(TenantStoreConformance, ServiceClientsCreateRotateDelete) {
  ASSERT_TRUE(tenants().create_tenant(make_tenant("t1")));
  ASSERT_TRUE(tenants().create_tenant(make_tenant("t2")));
  ASSERT_TRUE(tenants().create_service_client(client("svc_b", "t1")));
  ASSERT_TRUE(tenants().create_service_client(client("svc_a", "t1")));
  ASSERT_TRUE(tenants().create_service_client(client("svc_c", "t2")));
  EXPECT_TRUE(conflict(tenants().create_service_client(client("svc_a", "t2"))));
  EXPECT_TRUE(not_found(tenants().create_service_client(client("svc_d", "nope"))));

  auto c = tenants().find_service_client("svc_a");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->tenant_id, "t1");
  EXPECT_EQ(c->name, "billing worker");
  EXPECT_EQ(c->secret_hash, std::string(64, 'a'));
  auto listed = tenants().list_service_clients("t1");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2U);
  EXPECT_EQ((*listed)[0].id, "svc_a");
  EXPECT_EQ((*listed)[1].id, "svc_b");

  ASSERT_TRUE(tenants().set_service_client_secret("svc_a", std::string(64, 'b'), kT0 + seconds{9}));
  c = tenants().find_service_client("svc_a");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->secret_hash, std::string(64, 'b'));
  EXPECT_EQ(c->updated_at, kT0 + seconds{9});
  EXPECT_TRUE(not_found(tenants().set_service_client_secret("nope", "x", kT0)));

  ASSERT_TRUE(tenants().delete_service_client("svc_a"));
  EXPECT_TRUE(not_found(tenants().delete_service_client("svc_a")));
  EXPECT_FALSE(tenants().find_service_client("svc_a"));
  EXPECT_TRUE(tenants().find_service_client("svc_b"));
}

INSTANTIATE_TEST_SUITE_P(Backends, TenantStoreConformance, ::testing::ValuesIn(all_backends()));

}  // namespace
}  // namespace gh::store::testing
