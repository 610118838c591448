#include "conformance/store_harness.h"

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include "store/memory/memory_session_store.h"
#include "store/redis/redis_client.h"

namespace gh::store::testing {
namespace {

class MemoryHarness final : public Harness {
 public:
  Result<std::unique_ptr<Store>> open(const StoreOptions& options) override {
    return open_store(url(), options);
  }
  std::string url() const override { return "memory://"; }
};

class SqliteHarness final : public Harness {
 public:
  void set_up() override {
    std::string templ = (std::filesystem::temp_directory_path() / "gh-sqlite-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr) << "mkdtemp failed";
    dir_ = templ;
  }
  ~SqliteHarness() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  Result<std::unique_ptr<Store>> open(const StoreOptions& options) override {
    return open_store(url(), options);
  }
  // A subdirectory that does not exist yet: open_store must create it.
  std::string url() const override {
    return "sqlite://" + (dir_ / "data" / "gatehouse.db").string();
  }

 private:
  std::filesystem::path dir_;
};

std::string random_suffix() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  return fmt::format("{:016x}", dist(rd));
}

// Runs a statement without parameters on an admin connection.
::testing::AssertionResult admin_exec(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexec(conn, sql.c_str());
  const auto status = PQresultStatus(r);
  std::string error = PQresultErrorMessage(r);
  PQclear(r);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << sql << ": " << error;
}

class PostgresHarness final : public Harness {
 public:
  void set_up() override {
    const auto server = postgres_server_url();
    ASSERT_TRUE(server.has_value())
        << "no PostgreSQL server: set GH_TEST_POSTGRES_URL or run the postgres_start CTest "
           "fixture, which writes " GH_PG_URL_FILE;
    admin_ = PQconnectdb(server->c_str());
    ASSERT_EQ(PQstatus(admin_), CONNECTION_OK)
        << "cannot connect to " << *server << ": " << PQerrorMessage(admin_);
    // Lower-case hex: a valid identifier that needs no quoting.
    const std::string name = "gh_test_" + random_suffix();
    ASSERT_TRUE(admin_exec(admin_, "CREATE DATABASE " + name));
    database_ = name;
    url_ = with_database(*server, name);
  }
  ~PostgresHarness() override {
    if (!database_.empty()) {
      // FORCE: a Store a failed test leaked may still be connected.
      EXPECT_TRUE(admin_exec(admin_, "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)"));
    }
    PQfinish(admin_);
  }
  Result<std::unique_ptr<Store>> open(const StoreOptions& options) override {
    return open_store(url_, options);
  }
  std::string url() const override { return url_; }

 private:
  PGconn* admin_ = nullptr;
  std::string database_;
  std::string url_;
};

// Store::sessions() of a migrated Store of backend `name`.
class StoreSessionHarness final : public SessionHarness {
 public:
  explicit StoreSessionHarness(const std::string& name) : harness_(backend_named(name).make()) {}
  ~StoreSessionHarness() override { store_.reset(); }  // before the database goes
  void set_up() override {
    harness_->set_up();
    if (::testing::Test::HasFatalFailure()) return;
    store_ = open_migrated(*harness_);
    ASSERT_NE(store_, nullptr);
  }
  SessionStore& sessions() override { return store_->sessions(); }
  Store* store() override { return store_.get(); }
  std::string url() const override { return harness_->url(); }

 private:
  std::unique_ptr<Harness> harness_;
  std::unique_ptr<Store> store_;
};

// make_memory_session_store(): sessions without a Store.
class StandaloneMemorySessionHarness final : public SessionHarness {
 public:
  void set_up() override { sessions_ = make_memory_session_store(); }
  SessionStore& sessions() override { return *sessions_; }
  Store* store() override { return nullptr; }
  std::string url() const override { return "(standalone memory)"; }

 private:
  std::unique_ptr<SessionStore> sessions_;
};

// Runs one command on a test's own connection.
::testing::AssertionResult redis_exec(redisContext* c, std::initializer_list<std::string> args,
                                      std::string* status = nullptr) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (r == nullptr) return ::testing::AssertionFailure() << *args.begin() << ": " << c->errstr;
  const bool error = r->type == REDIS_REPLY_ERROR;
  const std::string text = r->str != nullptr ? std::string(r->str, r->len) : std::string();
  freeReplyObject(r);
  if (status != nullptr) *status = text;
  if (error) return ::testing::AssertionFailure() << *args.begin() << ": " << text;
  return ::testing::AssertionSuccess();
}

// open_redis_session_store on a database of the test's own. Tests run in
// parallel processes, so each claims a free database number with a lock key
// in database 0 (SET NX, expiring after the CTest timeout in case the
// process dies) and flushes it before and after.
class RedisSessionHarness final : public SessionHarness {
 public:
  void set_up() override {
    const auto server = redis_server_url();
    ASSERT_TRUE(server.has_value())
        << "no Redis server: set GH_TEST_REDIS_URL or run the redis_start CTest fixture, which "
           "writes " GH_REDIS_URL_FILE;
    auto target = redis::parse_url(*server);
    ASSERT_TRUE(target) << "bad Redis URL " << *server;
    admin_ = redisConnectWithTimeout(target->host.c_str(), target->port, timeval{5, 0});
    ASSERT_TRUE(admin_ != nullptr && admin_->err == 0)
        << "cannot connect to " << *server << ": " << (admin_ ? admin_->errstr : "");
    std::random_device rd;
    const int start = static_cast<int>(rd() % kDatabases);
    for (int i = 0; i < kDatabases - 1 && db_ == 0; ++i) {
      const int n = 1 + (start + i) % (kDatabases - 1);
      std::string status;
      ASSERT_TRUE(redis_exec(
          admin_, {"SET", lock_key(n), std::to_string(getpid()), "NX", "EX", "900"}, &status));
      if (status == "OK") db_ = n;
    }
    ASSERT_NE(db_, 0) << "all " << kDatabases - 1 << " Redis test databases are taken";
    ASSERT_TRUE(redis_exec(admin_, {"SELECT", std::to_string(db_)}));
    ASSERT_TRUE(redis_exec(admin_, {"FLUSHDB"}));
    url_ = fmt::format("{}/{}", *server, db_);
    auto opened = open_redis_session_store(url_);
    ASSERT_TRUE(opened) << "open_redis_session_store(" << url_ << "): " << opened.error().message();
    sessions_ = std::move(*opened);
  }
  ~RedisSessionHarness() override {
    sessions_.reset();
    if (admin_ != nullptr && admin_->err == 0 && db_ != 0) {
      EXPECT_TRUE(redis_exec(admin_, {"FLUSHDB"}));
      EXPECT_TRUE(redis_exec(admin_, {"SELECT", "0"}));
      EXPECT_TRUE(redis_exec(admin_, {"DEL", lock_key(db_)}));
    }
    if (admin_ != nullptr) redisFree(admin_);
  }
  SessionStore& sessions() override { return *sessions_; }
  Store* store() override { return nullptr; }
  std::string url() const override { return url_; }

 private:
  static constexpr int kDatabases = 256;  // redis-test-server.sh --databases
  static std::string lock_key(int db) { return fmt::format("gh-test:db:{}", db); }

  redisContext* admin_ = nullptr;
  int db_ = 0;
  std::string url_;
  std::unique_ptr<SessionStore> sessions_;
};

}  // namespace

const std::vector<Backend>& all_backends() {
  static const std::vector<Backend> backends = {
      {"memory", [] { return std::make_unique<MemoryHarness>(); }, false},
      {"sqlite", [] { return std::make_unique<SqliteHarness>(); }, true},
      {"postgres", [] { return std::make_unique<PostgresHarness>(); }, true},
  };
  return backends;
}

std::vector<Backend> shared_backends() {
  std::vector<Backend> out;
  for (const auto& b : all_backends()) {
    if (b.shared) out.push_back(b);
  }
  return out;
}

const Backend& backend_named(const std::string& name) {
  for (const auto& b : all_backends()) {
    if (b.name == name) return b;
  }
  std::abort();
}

const std::vector<SessionBackend>& all_session_backends() {
  static const std::vector<SessionBackend> backends = {
      {"memory", [] { return std::make_unique<StoreSessionHarness>("memory"); }, true},
      {"sqlite", [] { return std::make_unique<StoreSessionHarness>("sqlite"); }, true},
      {"postgres", [] { return std::make_unique<StoreSessionHarness>("postgres"); }, true},
      {"memory_alone", [] { return std::make_unique<StandaloneMemorySessionHarness>(); }, false},
      {"redis", [] { return std::make_unique<RedisSessionHarness>(); }, false},
  };
  return backends;
}

std::vector<SessionBackend> in_store_session_backends() {
  std::vector<SessionBackend> out;
  for (const auto& b : all_session_backends()) {
    if (b.in_store) out.push_back(b);
  }
  return out;
}

const SessionBackend& session_backend_named(const std::string& name) {
  for (const auto& b : all_session_backends()) {
    if (b.name == name) return b;
  }
  std::abort();
}

std::optional<std::string> redis_server_url() {
  if (const char* env = std::getenv("GH_TEST_REDIS_URL"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  std::ifstream in(GH_REDIS_URL_FILE);
  std::string line;
  if (!in || !std::getline(in, line) || line.empty()) return std::nullopt;
  return line;
}

std::optional<std::string> postgres_server_url() {
  if (const char* env = std::getenv("GH_TEST_POSTGRES_URL"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  std::ifstream in(GH_PG_URL_FILE);
  std::string line;
  if (!in || !std::getline(in, line) || line.empty()) return std::nullopt;
  return line;
}

std::string with_database(const std::string& url, const std::string& database) {
  const auto query = url.find('?');
  const std::string base = url.substr(0, query);
  const std::string params = query == std::string::npos ? "" : url.substr(query);
  const auto authority = base.find("://");
  const auto slash = base.find('/', authority == std::string::npos ? 0 : authority + 3);
  return base.substr(0, slash) + "/" + database + params;
}

std::unique_ptr<Store> open_migrated(Harness& harness, const StoreOptions& options) {
  auto store = harness.open(options);
  if (!store) {
    ADD_FAILURE() << "open_store(" << harness.url() << "): " << store.error().message();
    return nullptr;
  }
  auto version = (*store)->migrate();
  if (!version) {
    ADD_FAILURE() << "migrate(): " << version.error().message();
    return nullptr;
  }
  return std::move(*store);
}

}  // namespace gh::store::testing
