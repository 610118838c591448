#include "core/jwt/alg.h"

#include <array>

namespace gh::jwt {
namespace {

constexpr std::array<Alg, 4> kAll{Alg::EdDSA, Alg::ES256, Alg::RS256, Alg::HS256};

}  // namespace

std::string_view alg_name(Alg alg) {
  switch (alg) {
    case Alg::EdDSA:
      return "EdDSA";
    case Alg::ES256:
      return "ES256";
    case Alg::RS256:
      return "RS256";
    case Alg::HS256:
      return "HS256";
  }
  return "";
}

std::optional<Alg> parse_alg(std::string_view name) {
  for (Alg a : kAll) {
    if (alg_name(a) == name) return a;
  }
  return std::nullopt;
}

}  // namespace gh::jwt
