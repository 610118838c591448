// TOTP against the RFC 4226 / RFC 6238 test vectors and an independent
// implementation (liboath's `oathtool` from Debian), plus replay and skew.
#include "core/totp/totp.h"

#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace gh::totp {
namespace {

std::vector<std::byte> bytes(std::string_view s) {
  std::vector<std::byte> out;
  for (const char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

const auto kRfcSecret =
    bytes("12345678901234567890");  // RFC 4226 Appendix D / RFC 6238 Appendix B (SHA-1)

TEST(Totp, Rfc4226HotpVectors) {
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (std::uint64_t i = 0; i < 10; ++i) EXPECT_EQ(hotp(kRfcSecret, i), expected[i]) << i;
}

TEST(Totp, Rfc6238Sha1Vectors) {
  const Params eight{8, 30};
  EXPECT_EQ(code_at(kRfcSecret, 59, eight), "94287082");
  EXPECT_EQ(code_at(kRfcSecret, 1111111109, eight), "07081804");
  EXPECT_EQ(code_at(kRfcSecret, 1111111111, eight), "14050471");
  EXPECT_EQ(code_at(kRfcSecret, 1234567890, eight), "89005924");
  EXPECT_EQ(code_at(kRfcSecret, 2000000000, eight), "69279037");
  EXPECT_EQ(code_at(kRfcSecret, 20000000000, eight), "65353130");
}

// The code `oathtool --totp` computes for a hex key at unix time t.
std::string oathtool(const std::string& hex_key, std::int64_t t) {
  const std::string cmd =
      "oathtool --totp --now=@" + std::to_string(t) + " " + hex_key + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return {};
  std::array<char, 64> buf{};
  std::string out;
  while (fgets(buf.data(), buf.size(), pipe.get()) != nullptr) out += buf.data();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

TEST(Totp, AgreesWithOathtool) {
  // A 160-bit secret as an enrolment would make one.
  const std::string hex = "3132333435363738393031323334353637383930a1b2c3d4";
  std::vector<std::byte> key;
  for (std::size_t i = 0; i < hex.size(); i += 2)
    key.push_back(static_cast<std::byte>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  for (const std::int64_t t : {0LL, 59LL, 1111111109LL, 1795546675LL, 2000000000LL}) {
    const std::string theirs = oathtool(hex, t);
    ASSERT_EQ(theirs.size(), 6U) << "oathtool missing or failed (Debian package oathtool)";
    EXPECT_EQ(code_at(key, t), theirs) << t;
  }
}

TEST(Totp, SkewOfOneStepAcceptedTwoRefused) {
  const std::int64_t now = 1'900'000'005;  // mid-step
  const std::int64_t step = now / 30;
  EXPECT_EQ(verify(kRfcSecret, code_at(kRfcSecret, now), now), step);
  EXPECT_EQ(verify(kRfcSecret, code_at(kRfcSecret, now - 30), now), step - 1);
  EXPECT_EQ(verify(kRfcSecret, code_at(kRfcSecret, now + 30), now), step + 1);
  EXPECT_FALSE(verify(kRfcSecret, code_at(kRfcSecret, now - 60), now));
  EXPECT_FALSE(verify(kRfcSecret, code_at(kRfcSecret, now + 60), now));
}

TEST(Totp, ReplayWithinTheWindowIsRefused) {
  const std::int64_t now = 1'900'000'005;
  const std::string code = code_at(kRfcSecret, now);
  const auto used = verify(kRfcSecret, code, now);
  ASSERT_TRUE(used);
  EXPECT_FALSE(verify(kRfcSecret, code, now, *used)) << "the same code again";
  EXPECT_FALSE(verify(kRfcSecret, code, now + 25, *used)) << "later in the window";
  EXPECT_FALSE(verify(kRfcSecret, code_at(kRfcSecret, now - 30), now, *used)) << "an older code";
  EXPECT_EQ(verify(kRfcSecret, code_at(kRfcSecret, now + 30), now + 30, *used), *used + 1)
      << "the next one is fine";
}

TEST(Totp, MalformedCodesAreRefused) {
  const std::int64_t now = 1'900'000'005;
  const std::string good = code_at(kRfcSecret, now);
  for (const std::string& bad :
       {std::string(""), good.substr(0, 5), good + "0", std::string(" ") + good.substr(1),
        std::string("12345a"), std::string("１２３４５６")})
    EXPECT_FALSE(verify(kRfcSecret, bad, now)) << bad;
  EXPECT_FALSE(verify(kRfcSecret, good, -1));
}

TEST(Totp, Base32RoundTripsAndRefusesJunk) {
  // RFC 4648 §10 vectors.
  EXPECT_EQ(base32_encode(bytes("foobar")), "MZXW6YTBOI");
  EXPECT_EQ(base32_encode(bytes("f")), "MY");
  EXPECT_EQ(base32_decode("MZXW6YTBOI======"), "foobar");
  EXPECT_EQ(base32_decode("mzxw6ytboi"), "foobar");
  EXPECT_EQ(base32_decode(base32_encode(kRfcSecret)), "12345678901234567890");
  EXPECT_FALSE(base32_decode("MZXW1"));  // '1' is not in the alphabet
  EXPECT_FALSE(base32_decode("MZ W6"));
}

TEST(Totp, OtpauthUriEncodesLabelAndIssuer) {
  const auto uri = otpauth_uri("Acme Corp", "ada@example.com", kRfcSecret);
  EXPECT_EQ(uri,
            "otpauth://totp/Acme%20Corp:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            "&issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30");
}

}  // namespace
}  // namespace gh::totp
