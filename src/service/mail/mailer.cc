#include "service/mail/mailer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <span>

#include <fmt/format.h>

#include "core/base/encoding.h"
#include "core/base/random.h"
#include "core/base/secret.h"
#include "core/mail/message.h"
#include "service/mail/outbox_mailer.h"
#include "service/mail/smtp_mailer.h"

namespace gh::service {

const char* describe(MailerError e) {
  switch (e) {
    case MailerError::SpoolUnwritable:
      return "the mail directory cannot be written";
    case MailerError::BadConfig:
      return "invalid mail configuration";
  }
  return "mailer error";
}
GH_DEFINE_ERROR_CATEGORY(MailerError, "mailer")

Result<std::string> Mailer::send_tracked(const MailMessage& m) {
  if (auto ok = send(m); !ok) return fail(ok.error());
  return std::string();
}

DeliveryStatus Mailer::status(const std::string& /*id*/) const { return {}; }

namespace {

tl::unexpected<Error> io_error(const std::string& what, const std::string& path) {
  return fail(MailerError::SpoolUnwritable,
              fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

tl::unexpected<Error> bad_config(std::string detail) {
  return fail(MailerError::BadConfig, std::move(detail));
}

struct SmtpUrl {
  std::string scheme;  // "smtp" or "smtps"
  std::string host;    // without brackets
};

// smtp[s]://host[:port][/ehlo-name]: the parts make_mailer checks. libcurl parses it again to
// connect.
Result<SmtpUrl> parse_smtp_url(const std::string& url) {
  SmtpUrl u;
  const auto sep = url.find("://");
  if (sep == std::string::npos)
    return bad_config("mail.smtp_url must be smtp://host[:port] or smtps://host[:port]");
  u.scheme = url.substr(0, sep);
  if (u.scheme != "smtp" && u.scheme != "smtps")
    return bad_config(
        "mail.smtp_url must start with smtp:// (STARTTLS) or smtps:// (implicit TLS)");
  const std::string authority = url.substr(sep + 3, url.find_first_of("/?#", sep + 3) - (sep + 3));
  if (authority.find('@') != std::string::npos)
    return bad_config(
        "mail.smtp_url must not hold credentials: set mail.smtp_user and mail.smtp_password");
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string::npos) return bad_config("mail.smtp_url: unterminated [IPv6] host");
    u.host = authority.substr(1, close - 1);
  } else {
    u.host = authority.substr(0, authority.find(':'));
  }
  if (u.host.empty()) return bad_config("mail.smtp_url has no host");
  return u;
}

// Only a literal loopback address (or exactly "localhost"): a DNS name such
// as "127.attacker.example" is not loopback, whatever it starts with.
bool is_loopback_host(const std::string& h) {
  if (h == "localhost") return true;
  std::string bare = h;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']')
    bare = bare.substr(1, bare.size() - 2);
  in_addr v4{};
  if (inet_pton(AF_INET, bare.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, bare.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

}  // namespace

std::string message_id_host(const std::string& public_url) {
  std::string_view rest = public_url;
  if (const auto sep = rest.find("://"); sep != std::string_view::npos) rest.remove_prefix(sep + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  std::string host;
  if (rest.starts_with("[")) {
    host = std::string(rest.substr(0, rest.find(']') + 1));  // "[::1]" is a valid no-fold-literal
  } else {
    host = std::string(rest.substr(0, rest.find(':')));
  }
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Check it the way render() will: a Message-ID with a dummy token.
  mail::Message probe;
  probe.from = probe.to = "a@localhost";
  probe.text = "x";
  probe.message_id_token = "x";
  probe.message_id_domain = host;
  probe.boundary_token = "x";
  if (host.empty() || !mail::render(probe)) return "localhost";
  return host;
}

std::string new_mail_id(Seconds now, Random& rng) {
  static std::atomic<std::uint32_t> sequence{0};
  std::string r(8, '\0');
  rng.fill(std::as_writable_bytes(std::span<char>(r)));
  const auto day = std::chrono::floor<std::chrono::days>(now);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss hms{now - day};
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z-{:06}-{}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                     sequence.fetch_add(1) % 1'000'000, hex_encode(r));
}

bool valid_mail_id(const std::string& id) {
  if (id.size() != 40 || id[15] != 'Z' || id[16] != '-' || id[23] != '-') return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  return true;
}

Status ensure_private_dir(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return {};
  std::filesystem::create_directories(dir, ec);
  if (ec || ::chmod(dir.c_str(), 0700) != 0)
    return fail(MailerError::SpoolUnwritable,
                fmt::format("cannot create directory {}: {}", dir,
                            ec ? ec.message() : std::strerror(errno)));
  return {};
}

Status write_file_durably(const std::string& dir, const std::string& name, std::string_view bytes) {
  const std::string tmp = dir + "/.tmp-" + name;
  const std::string dst = dir + "/" + name;
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
  int fd = ::open(tmp.c_str(), kFlags, 0600);
  if (fd < 0 && errno == EEXIST) {  // a crashed writer's leftover with this very name
    ::unlink(tmp.c_str());
    fd = ::open(tmp.c_str(), kFlags, 0600);
  }
  if (fd < 0) return io_error("cannot create", tmp);
  int err = ::fchmod(fd, 0600) == 0 ? 0 : errno;  // exactly 0600 whatever the umask
  for (std::size_t done = 0; err == 0 && done < bytes.size();) {
    const auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      err = n < 0 ? errno : EIO;
    else
      done += static_cast<std::size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return fail(MailerError::SpoolUnwritable,
                fmt::format("cannot write {}: {}", tmp, std::strerror(err)));
  }
  if (::rename(tmp.c_str(), dst.c_str()) != 0) {
    auto e = io_error("cannot rename into", dst);
    ::unlink(tmp.c_str());
    return e;
  }
  // The rename is durable only once the directory entry is on disk.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return io_error("cannot open", dir);
  const bool synced = ::fsync(dfd) == 0;
  ::close(dfd);
  if (!synced) return io_error("cannot fsync", dir);
  return {};
}

Result<ComposedMail> compose_mail(const MailMessage& m, const std::string& from,
                                  const std::string& host, Seconds now, Random& rng) {
  mail::Message msg;
  msg.from = from;
  msg.to = m.to;
  msg.subject = m.subject;
  msg.text = m.text;
  msg.html = m.html;
  msg.date = now;
  msg.message_id_token = random_token(rng, 16);
  msg.message_id_domain = host;
  msg.boundary_token = random_token(rng, 12);
  auto eml = mail::render(msg);
  wipe(msg.text);  // copies of the bodies: they hold links
  wipe(msg.html);
  if (!eml) return fail(eml.error());
  ComposedMail out;
  out.envelope_from = mail::parse_mailbox(from)->address;  // render() parsed both already
  out.envelope_to = mail::parse_mailbox(m.to)->address;
  out.eml = std::move(*eml);
  return out;
}

Result<std::unique_ptr<Mailer>> make_mailer(const Config& c, Clock& clock, Random& rng) {
  if (auto f = mail::parse_mailbox(c.mail_from); !f)
    return bad_config(fmt::format("mail.from: {} (e.g. \"Gatehouse <no-reply@example.com>\")",
                                  f.error().message()));
  const std::string host = message_id_host(c.public_url);
  if (c.mail_smtp_url.empty()) {
    const std::string dir = c.mail_outbox_dir.empty() ? c.data_dir + "/outbox" : c.mail_outbox_dir;
    auto m = OutboxDirMailer::create(dir, c.mail_from, host, clock, rng);
    if (!m) return fail(m.error());
    return std::unique_ptr<Mailer>(std::move(*m));
  }
  auto url = parse_smtp_url(c.mail_smtp_url);
  if (!url) return fail(url.error());
  if (c.mail_smtp_tls != "required" && c.mail_smtp_tls != "none")
    return bad_config("mail.smtp_tls must be \"required\" or \"none\"");
  const bool require_tls = c.mail_smtp_tls == "required";
  if (!require_tls && url->scheme == "smtp" && !is_loopback_host(url->host))
    return bad_config(
        "mail.smtp_tls = \"none\" sends mail (and passwords) in clear: it is only allowed for a "
        "loopback SMTP server (127.0.0.1, ::1, localhost); use STARTTLS or smtps://");
  SmtpSettings s;
  s.url = c.mail_smtp_url;
  s.require_tls = require_tls;
  s.user = c.mail_smtp_user;
  s.password = SecretString(c.mail_smtp_password);
  s.timeout = std::chrono::seconds(c.mail_timeout_s);
  s.connect_timeout = std::min(s.timeout, std::chrono::seconds{10});
  SmtpMailerOptions o;
  o.spool_dir = c.mail_spool_dir.empty() ? c.data_dir + "/mail-spool" : c.mail_spool_dir;
  o.from = c.mail_from;
  o.message_id_host = host;
  auto m = SmtpMailer::create(std::move(o), make_curl_transport(std::move(s)), clock, rng);
  if (!m) return fail(m.error());
  (*m)->start();
  return std::unique_ptr<Mailer>(std::move(*m));
}

Result<std::unique_ptr<Mailer>> make_mailer(const Config& c) {
  static SystemClock clock;
  static SystemRandom rng;
  return make_mailer(c, clock, rng);
}

}  // namespace gh::service
