#include "service/tokens/key_manager.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace gh::service {

const char* describe(KeyError e) {
  switch (e) {
    case KeyError::NoActiveKey: return "no active signing key: run `gatehouse keys rotate`";
    case KeyError::RetireActive: return "the active key cannot be retired; rotate first";
    case KeyError::Unsealable: return "a stored signing key does not open with the configured KEK";
  }
  return "key error";
}
GH_DEFINE_ERROR_CATEGORY(KeyError, "keys")

namespace {

const char* status_name(store::KeyStatus s) {
  switch (s) {
    case store::KeyStatus::Active: return "active";
    case store::KeyStatus::Published: return "published";
    case store::KeyStatus::Retired: return "retired";
  }
  return "unknown";
}

}  // namespace

KeyManager::KeyManager(store::KeyStore& keys, const crypto::Kek& kek, Clock& clock, Random& rng,
                       std::chrono::seconds publish_overlap)
    : keys_(keys), kek_(kek), clock_(clock), rng_(rng), overlap_(publish_overlap) {
  snapshot_.store(std::make_shared<const KeySnapshot>());
}

Status KeyManager::reload() {
  auto rows = keys_.list_keys();
  if (!rows) return fail(rows.error());
  auto snap = std::make_shared<KeySnapshot>();
  nlohmann::json jwks = {{"keys", nlohmann::json::array()}};
  const Seconds now = clock_.now();
  const auto in_use = [now](const store::StoredKey& row) {
    return row.status == store::KeyStatus::Active ||
           (row.status == store::KeyStatus::Published && (!row.not_after || *row.not_after > now));
  };
  for (const auto& row : *rows)
    if (in_use(row)) snap->fingerprint += row.kid + (row.status == store::KeyStatus::Active ? ":a;" : ":p;");
  const auto current = snapshot_.load();
  if (current->fingerprint == snap->fingerprint && !snap->fingerprint.empty()) return {};  // unchanged: keep caches warm
  snap->generation = current->generation + 1;
  for (const auto& row : *rows) {
    if (!in_use(row)) continue;
    const bool active = row.status == store::KeyStatus::Active;
    const auto alg = jwt::parse_alg(row.alg);
    if (!alg) continue;
    // The kid is the associated data: a sealed key moved to another row does not open.
    auto pem = kek_.open(row.private_sealed, row.kid);
    if (!pem) {
      spdlog::error("signing key {} does not open with the configured KEK", row.kid);
      return fail(KeyError::Unsealable, fmt::format("signing key {} does not open with the configured KEK", row.kid));
    }
    auto key = *alg == jwt::Alg::HS256 ? jwt::SigningKey::from_secret(row.kid, std::move(*pem))
                                       : jwt::SigningKey::from_private_pem(*alg, row.kid, *pem);
    if (!key) return fail(key.error());
    auto shared = std::make_shared<const jwt::SigningKey>(std::move(*key));
    if (auto ok = snap->verify.add(jwt::VerifyKey::from_signing_key(*shared)); !ok) return ok;
    if (*alg != jwt::Alg::HS256) jwks["keys"].push_back(shared->public_jwk());
    if (active && !snap->active) snap->active = std::move(shared);
  }
  snap->jwks_json = jwks.dump();
  snapshot_.store(std::move(snap));
  return {};
}

Status KeyManager::ensure_active(jwt::Alg alg) {
  if (auto ok = reload(); !ok) return ok;
  if (snapshot()->active) return {};
  auto kid = rotate(alg);
  if (!kid) return fail(kid.error());
  spdlog::info("generated the first signing key {} ({})", *kid, jwt::alg_name(alg));
  return {};
}

std::string KeyManager::new_kid() {
  // A kid says when and is unguessable enough to never collide: date + random.
  return fmt::format("{}-{}", to_rfc3339(clock_.now()).substr(0, 10), random_token(rng_, 6));
}

Result<std::string> KeyManager::activate(jwt::SigningKey key, jwt::Alg alg, const std::string& kid) {
  auto pem = key.private_pem();
  if (!pem) return fail(pem.error());
  const Seconds now = clock_.now();
  store::StoredKey row;
  row.kid = kid;
  row.alg = std::string(jwt::alg_name(alg));
  row.private_sealed = kek_.seal(pem->expose(), kid, rng_);
  if (alg != jwt::Alg::HS256) row.public_jwk = key.public_jwk().dump();
  row.status = store::KeyStatus::Active;
  row.created_at = now;
  if (auto ok = keys_.activate_key(row, now + overlap_); !ok) return fail(ok.error());
  if (auto ok = reload(); !ok) return fail(ok.error());
  return kid;
}

Result<std::string> KeyManager::rotate(jwt::Alg alg) {
  std::lock_guard lock(write_mu_);
  const std::string kid = new_kid();
  auto key = jwt::SigningKey::generate(alg, kid);
  if (!key) return fail(key.error());
  return activate(std::move(*key), alg, kid);
}

Result<std::string> KeyManager::import(jwt::Alg alg, const SecretString& pem) {
  std::lock_guard lock(write_mu_);
  const std::string kid = new_kid();
  auto key = alg == jwt::Alg::HS256 ? jwt::SigningKey::from_secret(kid, SecretString(pem.expose()))
                                    : jwt::SigningKey::from_private_pem(alg, kid, pem);
  if (!key) return fail(key.error());
  return activate(std::move(*key), alg, kid);
}

Status KeyManager::retire(std::string_view kid) {
  std::lock_guard lock(write_mu_);
  auto rows = keys_.list_keys();
  if (!rows) return fail(rows.error());
  for (const auto& row : *rows) {
    if (row.kid == kid && row.status == store::KeyStatus::Active) return fail(KeyError::RetireActive);
  }
  if (auto ok = keys_.set_key_status(kid, store::KeyStatus::Retired); !ok) return ok;
  return reload();
}

Result<std::vector<KeyInfo>> KeyManager::list() {
  auto rows = keys_.list_keys();
  if (!rows) return fail(rows.error());
  std::vector<KeyInfo> out;
  for (const auto& r : *rows) out.push_back({r.kid, r.alg, status_name(r.status), r.created_at, r.not_after});
  return out;
}

}  // namespace gh::service
