#include "cli/logging.h"

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace gh::cli {
namespace {

// %j: the message as a JSON string literal (escaped), so log lines stay one
// valid JSON object whatever the message contains (no log injection).
class JsonMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string s = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(s.data(), s.data() + s.size());
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessage>(); }
};

}  // namespace

void init_logging(bool event_streams_on_stdout) {
  auto main = spdlog::stderr_logger_mt("gatehouse");
  auto fmt = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  fmt->add_flag<JsonMessage>('j').set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":%j})");
  main->set_formatter(std::move(fmt));
  spdlog::set_default_logger(main);
  // Access and audit lines are complete JSON objects already.
  for (const char* name : {"access", "audit"}) {
    auto l = event_streams_on_stdout ? spdlog::stdout_logger_mt(name) : spdlog::stderr_logger_mt(name);
    l->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","stream":"%n","event":%v})", spdlog::pattern_time_type::utc);
  }
  spdlog::flush_on(spdlog::level::warn);
  spdlog::flush_every(std::chrono::seconds(1));
}

void set_log_level(const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); }

}  // namespace gh::cli
