// AuditLog: events reach the store (batched, on the writer thread), in order,
// with every field; a failing store is retried without losing events; the
// JSON line escapes what could forge a log line.
#include "service/common/audit.h"

#include <gtest/gtest.h>

#include "store/store.h"

namespace gh::service {
namespace {

AuditEvent event(int i) {
  return AuditEvent{"user.login", i % 2 ? "success" : "wrong_password", "u1", "u1",
                    Seconds{std::chrono::seconds{1'900'000'000 + i}}, RequestMeta{"req", "10.0.0.1", "agent"}, ""};
}

// A store that fails the first `failures` appends.
class FlakyAudit final : public store::AuditStore {
 public:
  FlakyAudit(store::AuditStore& inner, int failures) : inner_(inner), failures_(failures) {}
  Status append_audit(std::span<const store::AuditRecord> r) override {
    if (failures_-- > 0) return fail(store::StoreError::Unavailable, "down");
    return inner_.append_audit(r);
  }
  Result<std::vector<store::AuditRecord>> query_audit(const store::AuditQuery& q) override {
    return inner_.query_audit(q);
  }
  Result<std::int64_t> purge_audit(Seconds before) override { return inner_.purge_audit(before); }

 private:
  store::AuditStore& inner_;
  int failures_;
};

TEST(AuditLog, EveryEventReachesTheStoreInOrder) {
  auto opened = store::open_store("memory://");
  ASSERT_TRUE(opened);
  auto store = std::move(*opened);
  ASSERT_TRUE(store->migrate());
  AuditLog log(64);  // smaller than the number of events: record() waits for room
  log.attach(store->audit());
  for (int i = 0; i < 500; ++i) log.record(event(i));
  log.flush();
  store::AuditQuery q;
  q.limit = 1000;
  auto rows = store->audit().query_audit(q);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 500U);
  for (int i = 0; i < 500; ++i) EXPECT_EQ((*rows)[static_cast<std::size_t>(i)].time, event(i).time);
  EXPECT_EQ(rows->front().ip, "10.0.0.1");
  EXPECT_EQ(rows->front().result, "wrong_password");
  log.stop();
}

TEST(AuditLog, AFailingStoreIsRetriedWithoutLosingEvents) {
  auto opened = store::open_store("memory://");
  ASSERT_TRUE(opened);
  auto store = std::move(*opened);
  ASSERT_TRUE(store->migrate());
  FlakyAudit flaky(store->audit(), 2);
  AuditLog log;
  log.attach(flaky);
  for (int i = 0; i < 3; ++i) log.record(event(i));
  log.flush();
  EXPECT_EQ(log.write_failures(), 2U);
  auto rows = store->audit().query_audit({});
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), 3U);
}

TEST(AuditLog, TheJsonLineEscapesControlCharacters) {
  AuditEvent e = event(1);
  e.meta.user_agent = "x\n{\"action\":\"forged\"}\r";
  const std::string line = audit_json_line(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_NE(line.find("\\n"), std::string::npos);
}

}  // namespace
}  // namespace gh::service
