// Backend-specific failure handling that the shared suites cannot express:
// lock waits past busy_timeout_ms (Busy), including a rotation's, and
// PostgreSQL connections dropped by the server (reconnect).
#include "store/store.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "conformance/store_harness.h"

namespace gh::store::testing {
namespace {

User make_user(const std::string& id) {
  User u;
  u.id = id;
  u.email = id + "@example.com";
  u.email_normalized = u.email;
  u.created_at = Seconds{std::chrono::seconds{1'900'000'000}};
  u.updated_at = u.created_at;
  return u;
}

// A harness for `backend` whose database exists; null after a fatal failure.
std::unique_ptr<Harness> make_harness(const std::string& backend) {
  auto harness = backend_named(backend).make();
  harness->set_up();
  if (::testing::Test::HasFatalFailure()) return nullptr;
  return harness;
}

TEST(SqliteErrors, WriteLockedPastBusyTimeoutIsBusy) {
  auto harness = make_harness("sqlite");
  ASSERT_NE(harness, nullptr);
  StoreOptions quick;
  quick.busy_timeout_ms = 100;
  auto store = open_migrated(*harness, quick);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->users().create_user(make_user("u1")));

  // Another process (here: another raw connection) holds the write lock.
  const std::string path = harness->url().substr(std::string_view("sqlite://").size());
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &other, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  auto blocked = store->users().create_user(make_user("u2"));
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, make_error_code(StoreError::Busy));
  auto del = store->users().delete_user("u1");  // BEGIN IMMEDIATE in the store too
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().code, make_error_code(StoreError::Busy));
  // WAL: readers are not blocked by the writer.
  EXPECT_TRUE(store->users().find_user_by_id("u1"));

  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_TRUE(store->users().create_user(make_user("u2")));
  EXPECT_TRUE(store->users().delete_user("u1"));
}

TEST(PostgresErrors, WriteLockedPastBusyTimeoutIsBusy) {
  auto harness = make_harness("postgres");
  ASSERT_NE(harness, nullptr);
  StoreOptions quick;
  quick.busy_timeout_ms = 200;
  auto store = open_migrated(*harness, quick);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->users().create_user(make_user("u1")));

  PGconn* other = PQconnectdb(harness->url().c_str());
  ASSERT_EQ(PQstatus(other), CONNECTION_OK) << PQerrorMessage(other);
  PQclear(PQexec(other, "BEGIN"));
  PGresult* locked = PQexec(other, "SELECT id FROM users WHERE id = 'u1' FOR UPDATE");
  ASSERT_EQ(PQresultStatus(locked), PGRES_TUPLES_OK) << PQerrorMessage(other);
  PQclear(locked);

  auto blocked = store->users().set_disabled("u1", true, Seconds{});
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, make_error_code(StoreError::Busy));
  EXPECT_TRUE(store->users().find_user_by_id("u1"));  // plain reads take no row lock

  PQclear(PQexec(other, "ROLLBACK"));
  PQfinish(other);
  EXPECT_TRUE(store->users().set_disabled("u1", true, Seconds{}));
}

// A family "f1" of user "u1" whose first token is "a1", and the child that would replace it.
RefreshToken start_family(Store& store) {
  const Seconds t0{std::chrono::seconds{1'900'000'000}};
  EXPECT_TRUE(store.users().create_user(make_user("u1")));
  RefreshToken first;
  first.hash = "a1";
  first.family_id = "f1";
  first.user_id = "u1";
  first.created_at = t0;
  first.expires_at = t0 + std::chrono::hours{1};
  EXPECT_TRUE(store.tokens().create_family({"f1", "u1", t0}, first));
  RefreshToken child = first;
  child.hash = "a2";
  child.parent_hash = "a1";
  return child;
}

TEST(SqliteErrors, RotateLockedPastBusyTimeoutIsBusyAndChangesNothing) {
  auto harness = make_harness("sqlite");
  ASSERT_NE(harness, nullptr);
  StoreOptions quick;
  quick.busy_timeout_ms = 100;
  auto store = open_migrated(*harness, quick);
  ASSERT_NE(store, nullptr);
  const RefreshToken child = start_family(*store);

  const std::string path = harness->url().substr(std::string_view("sqlite://").size());
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &other, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto blocked = store->tokens().rotate("a1", child, child.created_at);
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, make_error_code(StoreError::Busy));
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);

  EXPECT_EQ(store->tokens().find_refresh("a1")->status, RefreshStatus::Active);
  auto r = store->tokens().rotate("a1", child, child.created_at);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->outcome, RotateOutcome::Rotated);
}

TEST(PostgresErrors, RotateOfALockedTokenPastBusyTimeoutIsBusyAndChangesNothing) {
  auto harness = make_harness("postgres");
  ASSERT_NE(harness, nullptr);
  StoreOptions quick;
  quick.busy_timeout_ms = 200;
  auto store = open_migrated(*harness, quick);
  ASSERT_NE(store, nullptr);
  const RefreshToken child = start_family(*store);

  // Another server is in the middle of rotating (or revoking) this token.
  PGconn* other = PQconnectdb(harness->url().c_str());
  ASSERT_EQ(PQstatus(other), CONNECTION_OK) << PQerrorMessage(other);
  PQclear(PQexec(other, "BEGIN"));
  PGresult* locked = PQexec(other, "SELECT hash FROM refresh_tokens WHERE hash = 'a1' FOR UPDATE");
  ASSERT_EQ(PQresultStatus(locked), PGRES_TUPLES_OK) << PQerrorMessage(other);
  PQclear(locked);
  auto blocked = store->tokens().rotate("a1", child, child.created_at);
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, make_error_code(StoreError::Busy));
  PQclear(PQexec(other, "ROLLBACK"));
  PQfinish(other);

  EXPECT_EQ(store->tokens().find_refresh("a1")->status, RefreshStatus::Active);
  EXPECT_FALSE(store->tokens().find_refresh("a2"));
  auto r = store->tokens().rotate("a1", child, child.created_at);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->outcome, RotateOutcome::Rotated);
}

// Terminates every session on the harness's database and waits until they are gone.
void kill_sessions(const std::string& database) {
  const auto server = postgres_server_url();
  ASSERT_TRUE(server);
  PGconn* admin = PQconnectdb(server->c_str());
  ASSERT_EQ(PQstatus(admin), CONNECTION_OK) << PQerrorMessage(admin);
  const char* params[] = {database.c_str()};
  PQclear(PQexecParams(admin,
                       "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                       1, nullptr, params, nullptr, nullptr, 0));
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    PGresult* r = PQexecParams(admin, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", 1,
                               nullptr, params, nullptr, nullptr, 0);
    gone = PQresultStatus(r) == PGRES_TUPLES_OK && std::string(PQgetvalue(r, 0, 0)) == "0";
    PQclear(r);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  PQfinish(admin);
  ASSERT_TRUE(gone) << "sessions on " << database << " did not end";
}

TEST(PostgresErrors, ReconnectsAfterTheServerDropsTheConnection) {
  auto harness = make_harness("postgres");
  ASSERT_NE(harness, nullptr);
  StoreOptions one;
  one.pool_size = 1;
  auto store = open_migrated(*harness, one);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->users().create_user(make_user("u1")));
  const std::string url = harness->url();
  const std::string database = url.substr(url.rfind('/') + 1);

  // A read on a dropped connection is retried once on a fresh one.
  kill_sessions(database);
  auto found = store->users().find_user_by_id("u1");
  EXPECT_TRUE(found) << found.error().message();

  // A write is not retried (it may have committed), but the next one works.
  kill_sessions(database);
  auto first = store->users().create_user(make_user("u2"));
  if (!first) {
    EXPECT_EQ(first.error().code, make_error_code(StoreError::Unavailable));
  }
  EXPECT_TRUE(store->users().create_user(make_user("u3")));
  EXPECT_TRUE(store->ping());
}

}  // namespace
}  // namespace gh::store::testing
