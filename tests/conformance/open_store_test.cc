// open_store(): URL dispatch and parsing, and what each backend does at open
// time (directories, files, connections).
#include "store/store.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "conformance/store_harness.h"
#include "store/schema.h"

namespace gh::store::testing {
namespace {

namespace fs = std::filesystem;

User make_user(const std::string& id) {
  User u;
  u.id = id;
  u.email = id + "@example.com";
  u.email_normalized = u.email;
  u.created_at = Seconds{std::chrono::seconds{1'900'000'000}};
  u.updated_at = u.created_at;
  return u;
}

// A temporary directory removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "gh-open-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) std::abort();
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::error_code code_of(const Result<std::unique_ptr<Store>>& r) {
  return r ? std::error_code{} : r.error().code;
}

TEST(OpenStore, BadUrl) {
  for (const char* url :
       {"", "mysql://localhost/db", "http://example.com", "memory", "memory://x", "MEMORY://",
        "SQLITE:///tmp/x.db", "postgres:/db", "redis://localhost", "sqlite",
        "sqlite:", "sqlite:x.db", "sqlite://", "sqlite://x.db", "sqlite://host/x.db",
        "sqlite:///tmp/dir/", "sqlite::memory:x", "postgres://u@h/db?no_such_libpq_option=1"}) {
    EXPECT_EQ(code_of(open_store(url)), make_error_code(StoreError::BadUrl)) << "url: " << url;
  }
}

TEST(OpenStore, BadUrlDetailNeverEchoesTheUrl) {
  for (const char* url :
       {"mysql://admin:hunter2@db/app", "postgres://admin:hunter2@db/app?bogus=1"}) {
    auto r = open_store(url);
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code, make_error_code(StoreError::BadUrl));
    EXPECT_EQ(r.error().message().find("hunter2"), std::string::npos) << r.error().message();
  }
}

TEST(OpenStore, MemoryUrl) {
  auto r = open_store("memory://");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->backend(), "memory");
}

TEST(OpenStore, SqliteCreatesMissingParentDirectoriesAndUsesWal) {
  TempDir tmp;
  const fs::path db = tmp.path() / "a" / "b" / "gatehouse.db";
  auto r = open_store("sqlite://" + db.string());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ((*r)->backend(), "sqlite");
  EXPECT_TRUE(fs::exists(db));
  ASSERT_TRUE((*r)->migrate());
  ASSERT_TRUE((*r)->users().create_user(make_user("u1")));
  EXPECT_TRUE(fs::exists(db.string() + "-wal")) << "journal_mode=WAL";
}

TEST(OpenStore, SqliteRelativePathIsRelativeToTheWorkingDirectory) {
  TempDir tmp;
  const fs::path old_cwd = fs::current_path();
  fs::current_path(tmp.path());
  auto r = open_store("sqlite://./rel/gatehouse.db");
  const bool created = fs::exists(tmp.path() / "rel" / "gatehouse.db");
  fs::current_path(old_cwd);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(created);
}

TEST(OpenStore, SqliteDirectoryThatCannotBeCreatedIsUnavailable) {
  TempDir tmp;
  std::ofstream(tmp.path() / "file") << "a regular file, not a directory";
  const auto url = "sqlite://" + (tmp.path() / "file" / "sub" / "gatehouse.db").string();
  EXPECT_EQ(code_of(open_store(url)), make_error_code(StoreError::Unavailable));
}

TEST(OpenStore, SqliteFileThatIsNotADatabaseIsUnavailable) {
  TempDir tmp;
  const fs::path db = tmp.path() / "garbage.db";
  std::ofstream(db) << std::string(8192, 'x');
  EXPECT_EQ(code_of(open_store("sqlite://" + db.string())),
            make_error_code(StoreError::Unavailable));
}

TEST(OpenStore, SqliteInMemoryIsPrivateAndThreadSafe) {
  auto a = open_store("sqlite::memory:");
  auto b = open_store("sqlite::memory:");
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ((*a)->schema_version().value_or(-1), 0);
  ASSERT_EQ((*a)->migrate().value_or(-1), kSchemaVersion);
  ASSERT_EQ((*b)->migrate().value_or(-1), kSchemaVersion);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const auto id = fmt::format("t{}-{}", t, i);
        if (!(*a)->users().create_user(make_user(id))) ++failures;
        if (!(*a)->users().find_user_by_id(id)) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ((*a)->users().count_users().value_or(-1), 100);
  EXPECT_EQ((*b)->users().count_users().value_or(-1), 0) << "each sqlite::memory: store is its own";
}

TEST(OpenStore, MethodsBeforeMigrateFailWithoutCrashing) {
  TempDir tmp;
  auto r = open_store("sqlite://" + (tmp.path() / "x.db").string());
  ASSERT_TRUE(r);
  auto found = (*r)->users().find_user_by_id("u1");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, make_error_code(StoreError::Internal));
}

TEST(OpenStore, PostgresUnreachableIsUnavailable) {
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  EXPECT_EQ(code_of(open_store("postgres://postgres@127.0.0.1:1/postgres?connect_timeout=5")),
            make_error_code(StoreError::Unavailable));
}

TEST(OpenStore, PostgresqlSchemeIsAccepted) {
  auto harness = backend_named("postgres").make();
  harness->set_up();
  if (HasFatalFailure()) return;
  std::string url = harness->url();
  ASSERT_TRUE(url.starts_with("postgres://")) << url;
  url.replace(0, std::string_view("postgres").size(), "postgresql");
  auto r = open_store(url);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ((*r)->backend(), "postgres");
  EXPECT_TRUE((*r)->ping());
}

}  // namespace
}  // namespace gh::store::testing
