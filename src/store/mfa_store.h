// MfaStore: a user's second factors — one TOTP authenticator and a set of
// single-use recovery codes. Schema version >= 7.
//
// The TOTP secret is stored sealed (AES-GCM under the KEK, by the service);
// the store never sees it in the clear. A TOTP row is first pending (written at
// enrolment, replaced by a new enrolment) and becomes confirmed once the user
// proves a first code; only confirmed rows count as a factor. `last_step`
// is the RFC 6238 time step of the last accepted code: advance_totp_step is a
// compare-and-swap so of two concurrent requests with the same code exactly
// one wins (replay refusal holds across threads and instances).
//
// Recovery codes are stored as keyed hashes (hex HMAC-SHA256, by the
// service); consuming one is atomic: of two concurrent uses exactly one
// succeeds. Deleting a user deletes their rows. Thread-safe; methods block.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/result.h"

namespace gh::store {

struct TotpFactor {
  std::string user_id;
  std::string secret_sealed;  // base64url AES-GCM box, opened only by the service
  bool confirmed = false;
  std::int64_t last_step = 0;  // last accepted time step (0 = none yet)
  Seconds created_at{};
  Seconds confirmed_at{};  // zero while pending
};

class MfaStore {
 public:
  virtual ~MfaStore() = default;

  // Stores a pending (unconfirmed) TOTP enrolment for the user, replacing an
  // earlier pending one. Conflict if the user already has a confirmed factor;
  // NotFound if the user does not exist. `f.confirmed` is ignored (stored false).
  [[nodiscard]] virtual Status put_pending_totp(const TotpFactor& f) = 0;
  // The user's TOTP row, pending or confirmed. NotFound if none.
  [[nodiscard]] virtual Result<TotpFactor> find_totp(std::string_view user_id) = 0;
  // Pending -> confirmed with last_step = `step`, only if the row is still
  // pending and its sealed secret equals `secret_sealed` (the enrolment the
  // code was checked against was not replaced meanwhile). NotFound otherwise.
  [[nodiscard]] virtual Status confirm_totp(std::string_view user_id, std::string_view secret_sealed,
                                            std::int64_t step, Seconds now) = 0;
  // Sets last_step = `step` only if the row is confirmed and last_step < step.
  // NotFound otherwise (no factor, or this step or a later one was already used).
  [[nodiscard]] virtual Status advance_totp_step(std::string_view user_id, std::int64_t step) = 0;
  // Deletes the user's TOTP row (pending or confirmed). Returns whether one existed.
  [[nodiscard]] virtual Result<bool> delete_totp(std::string_view user_id) = 0;

  // Replaces the user's recovery codes with `code_hashes` in one transaction
  // (an empty list just deletes them). NotFound if the user does not exist.
  [[nodiscard]] virtual Status replace_recovery_codes(std::string_view user_id,
                                                      const std::vector<std::string>& code_hashes, Seconds now) = 0;
  // Removes the code if the user has it, and returns how many remain.
  // NotFound if the user has no such code (unknown or already used).
  [[nodiscard]] virtual Result<std::int64_t> consume_recovery_code(std::string_view user_id,
                                                                   std::string_view code_hash) = 0;
  // How many unused recovery codes the user has.
  [[nodiscard]] virtual Result<std::int64_t> count_recovery_codes(std::string_view user_id) = 0;
};

}  // namespace gh::store
