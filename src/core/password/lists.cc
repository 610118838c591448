#include "core/password/lists.h"

#include <openssl/evp.h>
#include <utf8proc.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>

#include "core/password/policy.h"

namespace gh::password::detail {

namespace {

constexpr std::string_view kCommentPrefix = "#!comment";
constexpr std::size_t kReadChunk = std::size_t{1} << 20;

// Fetched once: with the legacy EVP_sha1() handle OpenSSL 3 fetches on every init.
const EVP_MD* sha1_md() {
  static const EVP_MD* md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    return fetched != nullptr ? fetched : EVP_sha1();
  }();
  return md;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::uint64_t> parse_sha1_line(std::string_view line) {
  if (line.size() < 40) return std::nullopt;
  if (line.size() > 40) {
    const std::string_view count = line.substr(41);
    if (line[40] != ':' || count.empty() ||
        !std::all_of(count.begin(), count.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 40; ++i) {
    const int h = hex_value(line[i]);
    if (h < 0) return std::nullopt;
    if (i < 16) v = (v << 4) | static_cast<std::uint64_t>(h);
  }
  return v;
}

// Calls on_line for each line of the file (without "\n" or "\r"), reading 1 MiB
// at a time so a 10-million-line breach list loads at disk speed.
bool for_each_line(const std::string& path, const std::function<void(std::string_view)>& on_line) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) return false;
  std::vector<char> buf(kReadChunk);
  std::string carry;  // a line split across two reads
  const auto emit = [&](std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    on_line(line);
  };
  for (;;) {
    const std::size_t n = std::fread(buf.data(), 1, buf.size(), file.get());
    if (n == 0) {
      if (std::ferror(file.get())) return false;  // e.g. the path is a directory
      break;
    }
    std::string_view chunk(buf.data(), n);
    for (std::size_t nl; (nl = chunk.find('\n')) != std::string_view::npos;
         chunk.remove_prefix(nl + 1)) {
      if (carry.empty()) {
        emit(chunk.substr(0, nl));
      } else {
        carry.append(chunk.substr(0, nl));
        emit(carry);
        carry.clear();
      }
    }
    carry.append(chunk);
  }
  if (!carry.empty()) emit(carry);
  return true;
}

}  // namespace

std::string lower_case(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);  // no simple mapping grows a code point beyond 1.5x
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  auto left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {
      cp = *p;
      n = 1;
    }
    std::array<utf8proc_uint8_t, 4> buf{};
    const auto k = utf8proc_encode_char(utf8proc_tolower(cp), buf.data());
    out.append(reinterpret_cast<const char*>(buf.data()), static_cast<std::size_t>(k));
    p += n;
    left -= n;
  }
  return out;
}

Sha1Prefix::Sha1Prefix() : ctx_(EVP_MD_CTX_new()) {}

Sha1Prefix::~Sha1Prefix() { EVP_MD_CTX_free(ctx_); }

std::optional<std::uint64_t> Sha1Prefix::of(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (ctx_ == nullptr || EVP_DigestInit_ex2(ctx_, sha1_md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_, md.data(), &len) != 1 || len < 8) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | md[i];
  return v;
}

void add_blocklist_entry(std::string_view line, Sha1Prefix& sha1, std::vector<std::uint64_t>& out) {
  if (const auto hashed = parse_sha1_line(line)) {
    out.push_back(*hashed);
    return;
  }
  // Printable ASCII is its own NFKC form, which spares utf8proc on most lines.
  const bool printable_ascii =
      std::all_of(line.begin(), line.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
  std::optional<std::uint64_t> key;
  if (printable_ascii) {
    key = sha1.of(line);
  } else if (auto normalized = normalize_password(line)) {
    key = sha1.of(normalized->expose());
  }
  if (key) out.push_back(*key);
}

bool read_common_list(const std::string& path, std::vector<std::string>& out) {
  return for_each_line(path, [&](std::string_view line) {
    if (line.empty() || line.starts_with(kCommentPrefix)) return;
    out.push_back(lower_case(line));
  });
}

bool read_blocklist(const std::string& path, std::vector<std::uint64_t>& out) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  // A HIBP line is 40 hex digits, ':', a count and "\r\n": about 45 bytes.
  if (!ec) out.reserve(out.size() + static_cast<std::size_t>(size / 42) + 1);
  Sha1Prefix sha1;
  return for_each_line(path, [&](std::string_view line) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (!line.empty()) add_blocklist_entry(line, sha1, out);
  });
}

}  // namespace gh::password::detail
