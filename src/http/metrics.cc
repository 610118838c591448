#include "http/metrics.h"

#include <fmt/format.h>

namespace gh::http {

void Metrics::observe_request(std::string_view route, unsigned status, double seconds) {
  std::size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  std::lock_guard lock(mu_);
  auto it = routes_.find(route);
  if (it == routes_.end()) it = routes_.emplace(std::string(route), RouteStats{}).first;
  RouteStats& s = it->second;
  ++s.by_status[status];
  ++s.buckets[b];
  s.sum += seconds;
  ++s.count;
}

void Metrics::inc(std::string_view name, std::string_view labels) {
  const std::string key = labels.empty() ? std::string(name) : fmt::format("{}{{{}}}", name, labels);
  std::lock_guard lock(mu_);
  ++counters_[key];
}

void Metrics::add_gauge(std::string name, std::string help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(read)});
}

std::string Metrics::render() const {
  std::string out;
  std::lock_guard lock(mu_);
  out += "# HELP gatehouse_http_requests_total HTTP requests by route and status.\n"
         "# TYPE gatehouse_http_requests_total counter\n";
  for (const auto& [route, s] : routes_)
    for (const auto& [status, n] : s.by_status)
      out += fmt::format("gatehouse_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", route, status, n);
  out += "# HELP gatehouse_http_request_duration_seconds Request latency by route.\n"
         "# TYPE gatehouse_http_request_duration_seconds histogram\n";
  for (const auto& [route, s] : routes_) {
    std::uint64_t cum = 0;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      cum += s.buckets[i];
      out += fmt::format("gatehouse_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", route,
                         kBuckets[i], cum);
    }
    cum += s.buckets[kBuckets.size()];
    out += fmt::format("gatehouse_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", route, cum);
    out += fmt::format("gatehouse_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", route, s.sum);
    out += fmt::format("gatehouse_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", route, s.count);
  }
  std::string_view last_family;
  for (const auto& [series, n] : counters_) {
    const std::string_view family = std::string_view(series).substr(0, series.find('{'));
    if (family != last_family) {
      out += fmt::format("# TYPE {} counter\n", family);
      last_family = family;
    }
    out += fmt::format("{} {}\n", series, n);
  }
  for (const auto& g : gauges_)
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", g.name, g.help, g.name, g.name, g.read());
  return out;
}

}  // namespace gh::http
