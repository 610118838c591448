#include "core/totp/qr.h"

#include <memory>

#include <fmt/format.h>
#include <qrencode.h>

namespace gh::totp {

std::string qr_svg(std::string_view text, int module_px) {
  const std::string input(text);  // libqrencode wants a NUL-terminated string
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
      QRcode_encodeString8bit(input.c_str(), 0, QR_ECLEVEL_M), &QRcode_free);
  if (!qr) return {};
  constexpr int kQuiet = 4;
  const int n = qr->width;
  const int size = (n + 2 * kQuiet) * module_px;
  // One path: a unit square per dark module (bit 0 of each byte), scaled.
  std::string path;
  path.reserve(static_cast<std::size_t>(n) * static_cast<std::size_t>(n) * 6);
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      if ((qr->data[y * n + x] & 1U) != 0)
        fmt::format_to(std::back_inserter(path), "M{},{}h1v1h-1z", x + kQuiet, y + kQuiet);
    }
  }
  return fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{0}" viewBox="0 0 {1} {1}" )"
      R"(shape-rendering="crispEdges" role="img" aria-label="QR code"><rect width="{1}" height="{1}" fill="#fff"/>)"
      R"(<path fill="#000" d="{2}"/></svg>)",
      size, n + 2 * kQuiet, path);
}

}  // namespace gh::totp
