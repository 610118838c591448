// Spool: the persistent SMTP queue, one directory on local disk.
//
//   <dir>/<id>.eml        the rendered message (CRLF), written first
//   <dir>/<id>.json       envelope + schedule (SpoolEntry), written last: its
//                         rename is the commit, so a message without one was
//                         never handed out as queued
//   <dir>/failed/<id>.*   messages given up on (the .json says why)
//   <dir>/.tmp-*          writes in progress (write_file_durably)
//
// Several processes may share a spool (the server's instances on one host, and
// `gatehouse mail test`): a sender claims a message with flock(2) on its .json
// before delivering it, so each message is handed to SMTP by one sender at a
// time. Files are 0600, directories 0700.
//
// Thread-safety: all methods may be called concurrently; the per-message
// Claim is what serialises work on one message.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/result.h"

namespace gh::service {

struct SpoolEntry {
  std::string id;             // new_mail_id(): sorts by queueing time
  std::string from;           // envelope sender (addr-spec)
  std::string to;             // envelope recipient (addr-spec)
  Seconds queued_at{};        // the give-up deadline counts from here
  int attempts = 0;           // delivery attempts made
  Seconds next_attempt_at{};  // not tried before this
  std::string last_error;     // the last failure, transport's words (never the body)
};

class Spool {
 public:
  // A held claim on one message: flock on its .json, released on destruction.
  class Claim {
   public:
    Claim(Claim&& o) noexcept;
    Claim& operator=(Claim&&) = delete;
    Claim(const Claim&) = delete;
    ~Claim();
    [[nodiscard]] const std::string& id() const { return id_; }

   private:
    friend class Spool;
    Claim(std::string id, int fd) : id_(std::move(id)), fd_(fd) {}
    std::string id_;
    int fd_;
  };

  // Uses `dir` (creating it and failed/, 0700). Errors: MailerError::SpoolUnwritable.
  [[nodiscard]] static Result<Spool> open(std::string dir);

  // Stores a new message durably: <id>.eml, then <id>.json. Errors: SpoolUnwritable.
  [[nodiscard]] Status add(const SpoolEntry& e, std::string_view eml) const;

  // Committed message ids, oldest first.
  [[nodiscard]] std::vector<std::string> ids() const;

  // The metadata of a queued message (no claim needed; it may change under you).
  [[nodiscard]] std::optional<SpoolEntry> read(const std::string& id) const;
  // The metadata of a failed message (in failed/).
  [[nodiscard]] std::optional<SpoolEntry> read_failed(const std::string& id) const;

  // Claims `id` for delivery; nullopt if another sender holds it or it is gone.
  [[nodiscard]] std::optional<Claim> try_claim(const std::string& id) const;

  // --- Under a claim ---
  // The message bytes; nullopt if the .eml is missing.
  [[nodiscard]] std::optional<std::string> message(const Claim& c) const;
  // Rewrites the metadata (attempts, schedule, error) atomically.
  [[nodiscard]] Status update(const Claim& c, const SpoolEntry& e) const;
  // Delivered: removes the message (.json first: from then on it is not queued).
  [[nodiscard]] Status remove(const Claim& c) const;
  // Given up: failed/<id>.json (with `e`), failed/<id>.eml, then the queued .json goes.
  [[nodiscard]] Status move_to_failed(const Claim& c, const SpoolEntry& e) const;

  // Deletes leftovers of crashed writers: .tmp-* files and .eml files without a
  // .json, both only when older than `age` (younger ones may be writes in progress).
  void remove_orphans(std::chrono::seconds age) const;

  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] std::string eml_path(const std::string& id) const;
  [[nodiscard]] std::string failed_eml_path(const std::string& id) const;

 private:
  explicit Spool(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// SpoolEntry <-> its .json text (exposed for tests).
[[nodiscard]] std::string spool_entry_json(const SpoolEntry& e);
[[nodiscard]] std::optional<SpoolEntry> parse_spool_entry(std::string_view json);

}  // namespace gh::service
