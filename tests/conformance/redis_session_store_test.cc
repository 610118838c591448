// What only the Redis session store does: its URL, the keys and TTLs it
// leaves in Redis (checked with raw hiredis calls), and its connections
// surviving a server restart. The restart and AUTH tests run a private
// redis-server (scripts/redis-test-server.sh), since they stop or reconfigure it.
#include "store/redis/redis_session_store.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "conformance/store_harness.h"
#include "store/redis/redis_client.h"
#include "store/store.h"

namespace gh::store::testing {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// Far ahead (2096): Redis expires keys by its own clock, so every deadline
// here must still be in the real future.
const Seconds kT0{seconds{4'000'000'000}};

Session make_session(std::string id_hash, std::string user_id, Seconds created = kT0) {
  Session s;
  s.id_hash = std::move(id_hash);
  s.user_id = std::move(user_id);
  s.created_at = created;
  s.last_seen = created;
  s.idle_expires_at = created + minutes{30};
  s.expires_at = created + hours{12};
  s.auth_time = created;
  s.amr = "pwd";
  return s;
}

std::int64_t unix_seconds(Seconds t) { return t.time_since_epoch().count(); }

std::error_code code_of(const Result<std::unique_ptr<SessionStore>>& r) {
  return r ? std::error_code{} : r.error().code;
}

// A raw hiredis connection to the database a URL names.
class Raw {
 public:
  explicit Raw(const std::string& url) {
    auto target = redis::parse_url(url);
    if (!target) return;
    ctx_ = redisConnectWithTimeout(target->host.c_str(), target->port, timeval{5, 0});
    if (ctx_ != nullptr && ctx_->err == 0 && target->db != 0) {
      Reply r = command({"SELECT", std::to_string(target->db)});
    }
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  ~Raw() {
    if (ctx_ != nullptr) redisFree(ctx_);
  }
  [[nodiscard]] bool ok() const { return ctx_ != nullptr && ctx_->err == 0; }

  using Reply = redis::Reply;
  Reply command(std::initializer_list<std::string> args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return Reply(static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
  }
  std::int64_t integer(std::initializer_list<std::string> args) {
    Reply r = command(args);
    EXPECT_TRUE(r && r->type == REDIS_REPLY_INTEGER) << *args.begin();
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
  }
  std::set<std::string> members(const std::string& key) {
    Reply r = command({"SMEMBERS", key});
    std::set<std::string> out;
    if (!r || r->type != REDIS_REPLY_ARRAY) return out;
    for (std::size_t i = 0; i < r->elements; ++i)
      out.emplace(r->element[i]->str, r->element[i]->len);
    return out;
  }

 private:
  redisContext* ctx_ = nullptr;
};

std::string session_key(const std::string& id) {
  return std::string(redis::kSessionKeyPrefix) + id;
}
std::string user_key(const std::string& id) { return std::string(redis::kUserKeyPrefix) + id; }

// ---- URL --------------------------------------------------------------------------

TEST(RedisUrl, Parses) {
  struct Case {
    const char* url;
    const char* host;
    int port;
    const char* password;
    int db;
  };
  for (const Case& c : {
           Case{"redis://127.0.0.1:6379", "127.0.0.1", 6379, "", 0},
           Case{"redis://cache.internal:7000/3", "cache.internal", 7000, "", 3},
           Case{"redis://:s3cret@redis-1:6380/0", "redis-1", 6380, "s3cret", 0},
           Case{"redis://:p%40ss%2Fw%3Ard@h:1/15", "h", 1, "p@ss/w:rd", 15},
           Case{"redis://:a@b@h:2", "h", 2, "a@b", 0},
           Case{"redis://[::1]:6379/2", "::1", 6379, "", 2},
           Case{"redis://h:65535/", "h", 65535, "", 0},
       }) {
    auto t = redis::parse_url(c.url);
    ASSERT_TRUE(t) << c.url;
    EXPECT_EQ(t->host, c.host) << c.url;
    EXPECT_EQ(t->port, c.port) << c.url;
    EXPECT_EQ(t->password, c.password) << c.url;
    EXPECT_EQ(t->db, c.db) << c.url;
  }
}

TEST(RedisUrl, BadUrl) {
  for (const char* url : {"",
                          "redis://",
                          "redis:///0",
                          "redis://host",
                          "redis://host/0",
                          "redis://:6379",
                          "redis://host:",
                          "redis://host:0",
                          "redis://host:65536",
                          "redis://host:6379x",
                          "redis://host:-1",
                          "redis://host:6379/x",
                          "redis://host:6379/-1",
                          "redis://host:6379/1/2",
                          "redis://host:6379?db=1",
                          "redis://host:6379/0#f",
                          "redis://user:pw@host:6379",
                          "redis://:@host:6379",
                          "redis://:%zz@host:6379",
                          "redis://:%4@host:6379",
                          "redis://ho st:6379",
                          "redis://[::1:6379",
                          "redis://[::1]6379",
                          "rediss://host:6379",
                          "REDIS://host:6379",
                          "http://host:6379",
                          "unix:///tmp/redis.sock"}) {
    EXPECT_FALSE(redis::parse_url(url)) << url;
    EXPECT_EQ(code_of(open_redis_session_store(url)), make_error_code(StoreError::BadUrl)) << url;
  }
}

TEST(RedisUrl, BadUrlDetailNeverEchoesThePassword) {
  auto r = open_redis_session_store("redis://:hunter2@host:6379/nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().find("hunter2"), std::string::npos) << r.error().message();
}

TEST(RedisOpen, UnreachableIsUnavailable) {
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  EXPECT_EQ(code_of(open_redis_session_store("redis://127.0.0.1:1")),
            make_error_code(StoreError::Unavailable));
}

TEST(RedisOpen, ADatabaseTheServerLacksIsBadUrl) {
  const auto server = redis_server_url();
  ASSERT_TRUE(server) << "no Redis server (redis_start fixture)";
  EXPECT_EQ(code_of(open_redis_session_store(*server + "/100000")),
            make_error_code(StoreError::BadUrl));
}

// ---- Keys and TTLs on the shared server --------------------------------------------

class RedisSessionStore : public ::testing::Test {
 protected:
  void SetUp() override {
    harness_ = session_backend_named("redis").make();
    harness_->set_up();
    if (HasFatalFailure()) return;
    raw_ = std::make_unique<Raw>(harness_->url());
    ASSERT_TRUE(raw_->ok()) << "raw connection to " << harness_->url();
  }
  SessionStore& sessions() { return harness_->sessions(); }

  std::unique_ptr<SessionHarness> harness_;
  std::unique_ptr<Raw> raw_;
};

TEST_F(RedisSessionStore, SessionKeysExpireAtTheEarlierDeadline) {
  const Session s = make_session("s1", "u1");
  ASSERT_TRUE(sessions().create_session(s));
  EXPECT_GT(raw_->integer({"TTL", session_key("s1")}), 0) << "Redis deletes it by itself";
  EXPECT_EQ(raw_->integer({"EXPIRETIME", session_key("s1")}), unix_seconds(s.idle_expires_at));
  EXPECT_EQ(raw_->integer({"EXPIRETIME", user_key("u1")}), unix_seconds(s.expires_at));

  // A touch moves the key's expiry with the idle deadline, capped by the absolute one.
  const Seconds now = kT0 + minutes{20};
  ASSERT_TRUE(sessions().touch_session("s1", now, now + minutes{30}));
  EXPECT_EQ(raw_->integer({"EXPIRETIME", session_key("s1")}), unix_seconds(now + minutes{30}));
  ASSERT_TRUE(sessions().touch_session("s1", now, s.expires_at + hours{1}));
  EXPECT_EQ(raw_->integer({"EXPIRETIME", session_key("s1")}), unix_seconds(s.expires_at));

  // An idle deadline later than the absolute one: the absolute one is the key's.
  Session capped = make_session("s2", "u1");
  capped.expires_at = kT0 + minutes{10};
  ASSERT_TRUE(sessions().create_session(capped));
  EXPECT_EQ(raw_->integer({"EXPIRETIME", session_key("s2")}), unix_seconds(capped.expires_at));
}

TEST_F(RedisSessionStore, UserSetExpiresWithItsLatestSession) {
  ASSERT_TRUE(sessions().create_session(make_session("late", "u1", kT0 + hours{2})));
  ASSERT_TRUE(sessions().create_session(make_session("early", "u1", kT0)));
  EXPECT_EQ(raw_->members(user_key("u1")), (std::set<std::string>{"late", "early"}));
  EXPECT_EQ(raw_->integer({"EXPIRETIME", user_key("u1")}), unix_seconds(kT0 + hours{2} + hours{12}))
      << "an earlier session must not shorten the set's life";
}

TEST_F(RedisSessionStore, DeleteRemovesTheHashAndTheSetMember) {
  ASSERT_TRUE(sessions().create_session(make_session("s1", "u1")));
  ASSERT_TRUE(sessions().create_session(make_session("s2", "u1")));
  ASSERT_TRUE(sessions().delete_session("s1"));
  EXPECT_EQ(raw_->integer({"EXISTS", session_key("s1")}), 0);
  EXPECT_EQ(raw_->members(user_key("u1")), std::set<std::string>{"s2"});
  ASSERT_TRUE(sessions().delete_user_sessions("u1", "").has_value());
  EXPECT_EQ(raw_->integer({"EXISTS", session_key("s2"), user_key("u1")}), 0);
}

TEST_F(RedisSessionStore, ListDropsIdsWhoseSessionRedisExpired) {
  ASSERT_TRUE(sessions().create_session(make_session("s1", "u1")));
  ASSERT_TRUE(sessions().create_session(make_session("s2", "u1")));
  // As if Redis had expired it.
  ASSERT_EQ(raw_->integer({"DEL", session_key("s1")}), 1);
  auto list = sessions().list_user_sessions("u1", kT0);
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 1U);
  EXPECT_EQ(list->front().id_hash, "s2");
  EXPECT_EQ(raw_->members(user_key("u1")), std::set<std::string>{"s2"});
}

TEST_F(RedisSessionStore, AMalformedHashIsInternal) {
  ASSERT_TRUE(raw_->command({"HSET", session_key("bad"), "user_id", "u1", "created_at", "x"}));
  auto found = sessions().find_session("bad", kT0);
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, make_error_code(StoreError::Internal));
  // The connection stays usable.
  EXPECT_TRUE(sessions().ping_sessions());
}

TEST_F(RedisSessionStore, PurgeLeavesExpiryToRedis) {
  ASSERT_TRUE(sessions().create_session(make_session("s1", "u1")));
  auto n = sessions().purge_sessions(kT0 + hours{24});
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0);
}

// ---- A private server: restart, AUTH ------------------------------------------------

// A redis-server of this test's own, run by scripts/redis-test-server.sh.
class PrivateRedis {
 public:
  PrivateRedis() {
    std::string templ = (std::filesystem::temp_directory_path() / "gh-redis-test-XXXXXX").string();
    if (mkdtemp(templ.data()) != nullptr) dir_ = templ;
  }
  PrivateRedis(const PrivateRedis&) = delete;
  PrivateRedis& operator=(const PrivateRedis&) = delete;
  ~PrivateRedis() {
    (void)stop();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  // Starts it on `port`, or on a free port if 0.
  [[nodiscard]] bool start(int port = 0) {
    if (dir_.empty()) return false;
    const std::string cmd =
        fmt::format("{} start {} {} > {}/script.log 2>&1", GH_REDIS_SCRIPT, dir_.string(),
                    port == 0 ? "" : std::to_string(port), dir_.string());
    if (std::system(cmd.c_str()) != 0) return false;
    std::ifstream in(dir_ / "url");
    return static_cast<bool>(std::getline(in, url_));
  }
  [[nodiscard]] bool stop() {
    if (dir_.empty()) return true;
    const std::string cmd = fmt::format("{} stop {} >> {}/script.log 2>&1", GH_REDIS_SCRIPT,
                                        dir_.string(), dir_.string());
    return std::system(cmd.c_str()) == 0;
  }
  [[nodiscard]] const std::string& url() const { return url_; }  // redis://127.0.0.1:PORT
  [[nodiscard]] int port() const { return std::stoi(url_.substr(url_.rfind(':') + 1)); }

 private:
  std::filesystem::path dir_;
  std::string url_;
};

TEST(RedisRestart, StoreReconnectsAfterTheServerRestarts) {
  PrivateRedis server;
  ASSERT_TRUE(server.start());
  auto opened = open_redis_session_store(server.url() + "/1", 3);
  ASSERT_TRUE(opened) << opened.error().message();
  SessionStore& sessions = **opened;
  ASSERT_TRUE(sessions.create_session(make_session("s1", "u1")));

  const int port = server.port();
  ASSERT_TRUE(server.stop());
  // Every call fails cleanly while it is down (and SIGPIPE kills nothing).
  for (int i = 0; i < 4; ++i) {
    auto pinged = sessions.ping_sessions();
    ASSERT_FALSE(pinged);
    EXPECT_EQ(pinged.error().code, make_error_code(StoreError::Unavailable));
  }
  auto found = sessions.find_session("s1", kT0);
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, make_error_code(StoreError::Unavailable));
  auto created = sessions.create_session(make_session("s2", "u1"));
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, make_error_code(StoreError::Unavailable));

  // Back on the same port, without the data (no persistence): every pooled
  // connection reconnects, including SELECT 1, on its next use.
  ASSERT_TRUE(server.start(port));
  for (int i = 0; i < 6; ++i) {
    auto ok = sessions.create_session(make_session(fmt::format("n{}", i), "u1"));
    EXPECT_TRUE(ok) << i << ": " << ok.error().message();
  }
  EXPECT_TRUE(sessions.ping_sessions());
  EXPECT_TRUE(sessions.find_session("n0", kT0));
  EXPECT_FALSE(sessions.find_session("s1", kT0)) << "the restarted server has no data";
  Raw raw(server.url() + "/1");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw.integer({"EXISTS", session_key("n0")}), 1) << "written to database 1";
}

TEST(RedisRestart, ConnectionsIdleAcrossARestartAreReplacedBeforeUse) {
  PrivateRedis server;
  ASSERT_TRUE(server.start());
  auto opened = open_redis_session_store(server.url(), 2);
  ASSERT_TRUE(opened) << opened.error().message();
  SessionStore& sessions = **opened;
  ASSERT_TRUE(sessions.ping_sessions());
  const int port = server.port();
  ASSERT_TRUE(server.stop());
  ASSERT_TRUE(server.start(port));
  // Not retried, so this passes only if the dead connection is noticed first.
  auto created = sessions.create_session(make_session("s1", "u1"));
  EXPECT_TRUE(created) << created.error().message();
  auto deleted = sessions.delete_user_sessions("u1", "");
  ASSERT_TRUE(deleted) << deleted.error().message();
  EXPECT_EQ(*deleted, 1);
}

TEST(RedisAuth, PasswordFromTheUrlIsSentAndAWrongOneIsUnavailable) {
  PrivateRedis server;
  ASSERT_TRUE(server.start());
  {
    Raw raw(server.url());
    ASSERT_TRUE(raw.ok());
    auto r = raw.command({"CONFIG", "SET", "requirepass", "p@ss/w:rd"});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STATUS);
  }
  const std::string authority = server.url().substr(std::string_view("redis://").size());
  auto good = open_redis_session_store("redis://:p%40ss%2Fw%3Ard@" + authority + "/2");
  ASSERT_TRUE(good) << good.error().message();
  EXPECT_TRUE((*good)->ping_sessions());
  EXPECT_TRUE((*good)->create_session(make_session("s1", "u1")));

  EXPECT_EQ(code_of(open_redis_session_store("redis://:wrong@" + authority)),
            make_error_code(StoreError::Unavailable));
  EXPECT_EQ(code_of(open_redis_session_store(server.url())),
            make_error_code(StoreError::Unavailable));
}

}  // namespace
}  // namespace gh::store::testing
