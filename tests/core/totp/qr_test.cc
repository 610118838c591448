#include "core/totp/qr.h"

#include <string>

#include <gtest/gtest.h>
#include <qrencode.h>

namespace gh::totp {
namespace {

std::size_t count(const std::string& hay, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos;
       at = hay.find(needle, at + needle.size()))
    ++n;
  return n;
}

TEST(QrSvg, DrawsEveryDarkModuleOfLibqrencodesMatrix) {
  const std::string uri =
      "otpauth://totp/"
      "Gatehouse:ada%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Gatehouse";
  QRcode* qr = QRcode_encodeString8bit(uri.c_str(), 0, QR_ECLEVEL_M);
  ASSERT_NE(qr, nullptr);
  std::size_t dark = 0;
  for (int i = 0; i < qr->width * qr->width; ++i) dark += (qr->data[i] & 1U);
  const int modules = qr->width + 8;
  QRcode_free(qr);

  const std::string svg = qr_svg(uri, 5);
  EXPECT_EQ(count(svg, "h1v1h-1z"), dark);
  EXPECT_NE(
      svg.find("viewBox=\"0 0 " + std::to_string(modules) + " " + std::to_string(modules) + "\""),
      std::string::npos);
  EXPECT_NE(svg.find("width=\"" + std::to_string(modules * 5) + "\""), std::string::npos);
  EXPECT_EQ(svg.rfind("<svg", 0), 0U);
  // Nothing from the input is copied into the markup (no injection surface).
  EXPECT_EQ(svg.find("otpauth"), std::string::npos);
}

TEST(QrSvg, TopLeftFinderPatternIsDark) {
  const std::string svg = qr_svg("hello");
  // The finder pattern's corner module sits just inside the 4-module quiet zone.
  EXPECT_NE(svg.find("M4,4h1v1h-1z"), std::string::npos);
  EXPECT_EQ(svg.find("M3,3h1v1h-1z"), std::string::npos);
}

TEST(QrSvg, TooLongIsEmpty) { EXPECT_TRUE(qr_svg(std::string(4000, 'x')).empty()); }

}  // namespace
}  // namespace gh::totp
