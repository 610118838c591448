#include "conformance/store_harness.h"

#include <libpq-fe.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/format.h>

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
