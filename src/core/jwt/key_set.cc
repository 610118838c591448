#include "core/jwt/key_set.h"

namespace gh::jwt {

Status KeySet::add(VerifyKey key) {
  if (keys_.contains(key.kid()))
    return fail(JwtError::DuplicateKid, "duplicate kid '" + key.kid() + "'");
  std::string kid = key.kid();
  keys_.emplace(std::move(kid), std::move(key));
  return {};
}

const VerifyKey* KeySet::find(std::string_view kid) const {
  const auto it = keys_.find(kid);
  return it == keys_.end() ? nullptr : &it->second;
}

nlohmann::json KeySet::jwks() const {
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& [kid, key] : keys_) {
    if (key.alg() != Alg::HS256) keys.push_back(key.public_jwk());
  }
  return {{"keys", std::move(keys)}};
}

}  // namespace gh::jwt
