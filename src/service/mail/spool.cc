#include "service/mail/spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "service/mail/mailer.h"

namespace gh::service {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kJson = ".json";
constexpr std::string_view kEml = ".eml";

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(ss).str();
}

std::optional<SpoolEntry> read_entry(const std::string& path) {
  auto text = read_file(path);
  if (!text) return std::nullopt;
  return parse_spool_entry(*text);
}

Status sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return fail(MailerError::SpoolUnwritable,
                fmt::format("cannot open {}: {}", dir, std::strerror(errno)));
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return fail(MailerError::SpoolUnwritable, fmt::format("cannot fsync {}", dir));
  return {};
}

}  // namespace

std::string spool_entry_json(const SpoolEntry& e) {
  const nlohmann::json j = {{"v", 1},
                            {"id", e.id},
                            {"from", e.from},
                            {"to", e.to},
                            {"queued_at", e.queued_at.time_since_epoch().count()},
                            {"attempts", e.attempts},
                            {"next_attempt_at", e.next_attempt_at.time_since_epoch().count()},
                            {"last_error", e.last_error}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::optional<SpoolEntry> parse_spool_entry(std::string_view json) {
  const auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("v", 0) != 1) return std::nullopt;
  try {
    SpoolEntry e;
    e.id = j.at("id").get<std::string>();
    e.from = j.at("from").get<std::string>();
    e.to = j.at("to").get<std::string>();
    e.queued_at = Seconds{std::chrono::seconds{j.at("queued_at").get<std::int64_t>()}};
    e.attempts = j.at("attempts").get<int>();
    e.next_attempt_at = Seconds{std::chrono::seconds{j.at("next_attempt_at").get<std::int64_t>()}};
    e.last_error = j.value("last_error", "");
    if (!valid_mail_id(e.id)) return std::nullopt;
    return e;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

Spool::Claim::Claim(Claim&& o) noexcept : id_(std::move(o.id_)), fd_(std::exchange(o.fd_, -1)) {}

Spool::Claim::~Claim() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

Result<Spool> Spool::open(std::string dir) {
  if (auto ok = ensure_private_dir(dir); !ok) return fail(ok.error());
  if (auto ok = ensure_private_dir(dir + "/failed"); !ok) return fail(ok.error());
  return Spool(std::move(dir));
}

std::string Spool::eml_path(const std::string& id) const {
  return fmt::format("{}/{}{}", dir_, id, kEml);
}

std::string Spool::failed_eml_path(const std::string& id) const {
  return fmt::format("{}/failed/{}{}", dir_, id, kEml);
}

Status Spool::add(const SpoolEntry& e, std::string_view eml) const {
  if (auto ok = write_file_durably(dir_, e.id + std::string(kEml), eml); !ok) return ok;
  if (auto ok = write_file_durably(dir_, e.id + std::string(kJson), spool_entry_json(e)); !ok) {
    ::unlink(eml_path(e.id).c_str());
    return ok;
  }
  return {};
}

std::vector<std::string> Spool::ids() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(dir_, ec)) {
    const std::string name = de.path().filename().string();
    if (!name.ends_with(kJson)) continue;
    std::string id = name.substr(0, name.size() - kJson.size());
    if (valid_mail_id(id)) out.push_back(std::move(id));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<SpoolEntry> Spool::read(const std::string& id) const {
  if (!valid_mail_id(id)) return std::nullopt;
  return read_entry(fmt::format("{}/{}{}", dir_, id, kJson));
}

std::optional<SpoolEntry> Spool::read_failed(const std::string& id) const {
  if (!valid_mail_id(id)) return std::nullopt;
  return read_entry(fmt::format("{}/failed/{}{}", dir_, id, kJson));
}

std::optional<Spool::Claim> Spool::try_claim(const std::string& id) const {
  if (!valid_mail_id(id)) return std::nullopt;
  const std::string path = fmt::format("{}/{}{}", dir_, id, kJson);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  Claim claim(id, fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) return std::nullopt;
  // The file we locked must still be the message's .json: another sender may
  // have delivered it (unlinked) or rescheduled it (renamed a new one in) meanwhile.
  struct stat held {};
  struct stat now {};
  if (::fstat(fd, &held) != 0 || ::stat(path.c_str(), &now) != 0 || held.st_ino != now.st_ino ||
      held.st_dev != now.st_dev)
    return std::nullopt;
  return claim;
}

std::optional<std::string> Spool::message(const Claim& c) const {
  return read_file(eml_path(c.id()));
}

Status Spool::update(const Claim& c, const SpoolEntry& e) const {
  return write_file_durably(dir_, c.id() + std::string(kJson), spool_entry_json(e));
}

Status Spool::remove(const Claim& c) const {
  const std::string json = fmt::format("{}/{}{}", dir_, c.id(), kJson);
  if (::unlink(json.c_str()) != 0 && errno != ENOENT)
    return fail(MailerError::SpoolUnwritable,
                fmt::format("cannot remove {}: {}", json, std::strerror(errno)));
  ::unlink(eml_path(c.id()).c_str());
  return sync_dir(dir_);
}

Status Spool::move_to_failed(const Claim& c, const SpoolEntry& e) const {
  const std::string failed = dir_ + "/failed";
  if (auto ok = write_file_durably(failed, c.id() + std::string(kJson), spool_entry_json(e)); !ok)
    return ok;
  if (::rename(eml_path(c.id()).c_str(), failed_eml_path(c.id()).c_str()) != 0 && errno != ENOENT)
    return fail(MailerError::SpoolUnwritable,
                fmt::format("cannot move {} to failed/: {}", c.id(), std::strerror(errno)));
  if (auto ok = sync_dir(failed); !ok) return ok;
  return remove(c);
}

void Spool::remove_orphans(std::chrono::seconds age) const {
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - age;
  for (const auto& sub : {dir_, dir_ + "/failed"}) {
    for (const auto& de : fs::directory_iterator(sub, ec)) {
      const std::string name = de.path().filename().string();
      bool orphan = name.starts_with(".tmp-");
      if (!orphan && name.ends_with(kEml) && sub == dir_) {
        const std::string id = name.substr(0, name.size() - kEml.size());
        orphan = !fs::exists(fmt::format("{}/{}{}", dir_, id, kJson), ec);
      }
      std::error_code tec;
      if (orphan && de.last_write_time(tec) < cutoff && !tec) fs::remove(de.path(), tec);
    }
  }
}

}  // namespace gh::service
