#include "core/mail/message.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <vector>

#include "core/base/encoding.h"

namespace gh::mail {
namespace {

Message sample() {
  Message m;
  m.from = "Gatehouse <no-reply@auth.example.com>";
  m.to = "ada@example.com";
  m.subject = "Reset your password";
  m.text = "Hello,\nopen this link:\nhttps://auth.example.com/reset-password#t\n";
  m.date = Seconds{std::chrono::seconds{1'900'000'000}};
  m.message_id_token = "AbC_d-9";
  m.message_id_domain = "auth.example.com";
  m.boundary_token = "b0und4ry";
  return m;
}

std::vector<std::string> split_crlf(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < s.size()) {
    auto end = s.find("\r\n", start);
    if (end == std::string::npos) end = s.size();
    lines.push_back(s.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

// Every line break is CRLF: no bare CR or LF anywhere.
void expect_crlf_only(const std::string& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      EXPECT_TRUE(i + 1 < s.size() && s[i + 1] == '\n') << "bare CR at " << i;
    }
    if (s[i] == '\n') {
      EXPECT_TRUE(i > 0 && s[i - 1] == '\r') << "bare LF at " << i;
    }
  }
}

// An independent (deliberately simple) quoted-printable decoder.
std::string qp_decode(const std::string& qp) {
  std::string out;
  for (std::size_t i = 0; i < qp.size(); ++i) {
    if (qp[i] == '=' && qp.compare(i, 3, "=\r\n") == 0) {
      i += 2;
    } else if (qp[i] == '=') {
      out.push_back(static_cast<char>(std::stoi(qp.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(qp[i]);
    }
  }
  return out;
}

std::string b64_decode(const std::string& b64) {
  std::string out(b64.size(), '\0');
  std::size_t n = 0;
  EXPECT_EQ(sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), b64.data(),
                              b64.size(), nullptr, &n, nullptr, sodium_base64_VARIANT_ORIGINAL),
            0);
  out.resize(n);
  return out;
}

// Decodes a run of "=?UTF-8?B?...?=" words separated by CRLF SP; checks each decodes to valid UTF-8
// alone.
std::string words_decode(const std::string& s) {
  std::string out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    EXPECT_EQ(s.compare(pos, 10, "=?UTF-8?B?"), 0) << s.substr(pos);
    const auto end = s.find("?=", pos + 10);
    EXPECT_NE(end, std::string::npos);
    EXPECT_LE(end + 2 - pos, 75U) << "encoded-word longer than 75 characters";
    const auto word = b64_decode(s.substr(pos + 10, end - pos - 10));
    EXPECT_TRUE(is_valid_utf8(word)) << "a word splits a UTF-8 character";
    out += word;
    pos = end + 2;
    if (s.compare(pos, 3, "\r\n ") == 0) pos += 3;
  }
  return out;
}

TEST(MailRender, KnownAnswerPlainText) {
  auto r = render(sample());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r,
            "From: Gatehouse <no-reply@auth.example.com>\r\n"
            "To: ada@example.com\r\n"
            "Subject: Reset your password\r\n"
            "Date: Sun, 17 Mar 2030 17:46:40 +0000\r\n"
            "Message-ID: <AbC_d-9@auth.example.com>\r\n"
            "MIME-Version: 1.0\r\n"
            "Auto-Submitted: auto-generated\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n"
            "\r\n"
            "Hello,\r\n"
            "open this link:\r\n"
            "https://auth.example.com/reset-password#t\r\n");
}

TEST(MailRender, MultipartAlternativeTextThenHtml) {
  auto m = sample();
  m.text = "Caf\xC3\xA9 = open";
  m.html = "<p>Caf\xC3\xA9 <a href=\"https://x.test/?a=1\">open</a></p>";
  auto r = render(m);
  ASSERT_TRUE(r) << r.error().message();
  expect_crlf_only(*r);
  const std::string b = "=_gh_b0und4ry";
  EXPECT_NE(r->find("Content-Type: multipart/alternative; boundary=\"" + b + "\"\r\n"),
            std::string::npos);
  const auto text_at = r->find("--" + b + "\r\nContent-Type: text/plain; charset=UTF-8\r\n");
  const auto html_at = r->find("--" + b + "\r\nContent-Type: text/html; charset=UTF-8\r\n");
  ASSERT_NE(text_at, std::string::npos);
  ASSERT_NE(html_at, std::string::npos);
  EXPECT_LT(text_at, html_at);  // RFC 2046 §5.1.4: the preferred (richest) alternative comes last
  EXPECT_TRUE(r->ends_with("--" + b + "--\r\n"));
  // The boundary occurs exactly three times (two delimiters and the close) plus in the header.
  std::size_t count = 0;
  for (auto p = r->find(b); p != std::string::npos; p = r->find(b, p + 1)) ++count;
  EXPECT_EQ(count, 4U);
  EXPECT_NE(r->find("Caf=C3=A9 =3D open\r\n"), std::string::npos);
  EXPECT_NE(r->find("href=3D\"https://x.test/?a=3D1\""), std::string::npos);
}

TEST(MailRender, HeaderInjectionRefusedInEveryHeader) {
  const std::vector<std::pair<std::string, std::function<void(Message&)>>> cases = {
      {"subject LF", [](Message& m) { m.subject = "Hi\nBcc: evil@attacker.test"; }},
      {"subject CRLF", [](Message& m) { m.subject = "Hi\r\nBcc: evil@attacker.test"; }},
      {"subject CR", [](Message& m) { m.subject = "Hi\rBcc: evil@attacker.test"; }},
      {"to", [](Message& m) { m.to = "ada@example.com\r\nBcc: evil@attacker.test"; }},
      {"to name", [](Message& m) { m.to = "Ada\n <ada@example.com>"; }},
      {"from", [](Message& m) { m.from = "Gatehouse <no-reply@x.test>\nBcc: evil@attacker.test"; }},
      {"message-id token", [](Message& m) { m.message_id_token = "a\r\nBcc: e@x.test"; }},
      {"message-id domain", [](Message& m) { m.message_id_domain = "x.test\nBcc: e@x.test"; }},
  };
  for (const auto& [what, mutate] : cases) {
    auto m = sample();
    mutate(m);
    auto r = render(m);
    ASSERT_FALSE(r) << what;
    EXPECT_EQ(r.error().code, make_error_code(MailError::HeaderInjection)) << what;
  }
}

TEST(MailRender, ControlCharacterInHeader) {
  for (const char* s : {"a\x00"
                        "b",
                        "a\x1b[31mb",
                        "a\x7f"
                        "b"}) {
    auto m = sample();
    m.subject = std::string(s, 3);
    auto r = render(m);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, make_error_code(MailError::ControlCharacter));
  }
  auto m = sample();
  m.subject = "tab\tis fine";
  EXPECT_TRUE(render(m));
}

TEST(MailRender, InvalidEncoding) {
  auto m = sample();
  m.subject = "bad \xFF";
  EXPECT_EQ(render(m).error().code, make_error_code(MailError::InvalidEncoding));
  m = sample();
  m.text = "truncated \xC3";
  EXPECT_EQ(render(m).error().code, make_error_code(MailError::InvalidEncoding));
  m = sample();
  m.html = "\xED\xA0\x80";  // a UTF-16 surrogate
  EXPECT_EQ(render(m).error().code, make_error_code(MailError::InvalidEncoding));
}

TEST(MailRender, MissingText) {
  auto m = sample();
  m.text.clear();
  m.html = "<p>html only</p>";
  EXPECT_EQ(render(m).error().code, make_error_code(MailError::MissingText));
}

TEST(MailRender, TooLarge) {
  auto m = sample();
  m.html = std::string(kMaxBodyBytes + 1, 'x');
  EXPECT_EQ(render(m).error().code, make_error_code(MailError::TooLarge));
}

TEST(MailRender, BadMessageId) {
  for (auto [tok, dom] :
       {std::pair{"", "x.test"}, std::pair{"a b", "x.test"}, std::pair{"a..b", "x.test"},
        std::pair{"a<b", "x.test"}, std::pair{"ok", ""}, std::pair{"ok", "x_y.test"},
        std::pair{"ok", "-x.test"}}) {
    auto m = sample();
    m.message_id_token = tok;
    m.message_id_domain = dom;
    auto r = render(m);
    ASSERT_FALSE(r) << tok << "@" << dom;
    EXPECT_EQ(r.error().code, make_error_code(MailError::BadMessageId)) << tok << "@" << dom;
  }
  auto m = sample();
  m.message_id_domain = "[127.0.0.1]";
  EXPECT_TRUE(render(m));
}

TEST(MailRender, BadBoundary) {
  for (const std::string& b :
       {std::string(), std::string("a b"), std::string("a=b"), std::string(61, 'a')}) {
    auto m = sample();
    m.html = "<p>x</p>";
    m.boundary_token = b;
    EXPECT_EQ(render(m).error().code, make_error_code(MailError::BadBoundary)) << b;
  }
}

TEST(MailRender, BadAddressInFromOrTo) {
  auto m = sample();
  m.to = "ada@example.com, eve@attacker.test";
  EXPECT_EQ(render(m).error().code, make_error_code(MailError::BadAddress));
  m = sample();
  m.from = "no address";
  EXPECT_EQ(render(m).error().code, make_error_code(MailError::BadAddress));
}

TEST(MailRender, NonAsciiSubjectBecomesEncodedWords) {
  auto m = sample();
  m.subject = "R\xC3\xA9initialisez votre mot de passe";
  auto r = render(m);
  ASSERT_TRUE(r);
  EXPECT_NE(r->find("Subject: =?UTF-8?B?UsOpaW5pdGlhbGlzZXogdm90cmUgbW90IGRlIHBhc3Nl?=\r\n"),
            std::string::npos)
      << *r;
  // Every header line is ASCII.
  const auto head = r->substr(0, r->find("\r\n\r\n"));
  for (unsigned char c : head) EXPECT_LT(c, 0x80);
}

TEST(MailRender, LongSubjectsFoldAndUnfoldToTheOriginal) {
  // 60 euro signs (3 bytes each): several words, each under 75 characters and whole characters
  // only.
  std::string euros;
  for (int i = 0; i < 60; ++i) euros += "\xE2\x82\xAC";
  const auto enc = encode_unstructured(euros, 9);
  EXPECT_EQ(words_decode(enc), euros);
  for (const auto& line : split_crlf(enc)) EXPECT_LE(line.size() + 9, 76U);

  const std::string ascii =
      "Your account at Example Corporation: a new sign-in from a device we have not seen before, "
      "please review";
  const auto folded = encode_unstructured(ascii, 9);
  EXPECT_NE(folded.find("\r\n "), std::string::npos);
  std::string unfolded = folded;
  for (auto p = unfolded.find("\r\n"); p != std::string::npos; p = unfolded.find("\r\n"))
    unfolded.erase(p, 2);
  EXPECT_EQ(unfolded, ascii);  // RFC 5322 §2.2.3: unfolding removes only the CRLF
  const auto lines = split_crlf(folded);
  EXPECT_LE(lines.front().size() + 9, 78U);
  for (const auto& line : lines) EXPECT_LE(line.size(), 78U);

  // ASCII that looks like an encoded word is encoded, so a reader cannot be fooled into decoding
  // it.
  EXPECT_EQ(words_decode(encode_unstructured("=?UTF-8?B?SGk=?=", 9)), "=?UTF-8?B?SGk=?=");
}

TEST(MailRender, EveryLineCrlfAndShort) {
  auto m = sample();
  m.text = std::string(300, 'a') + "\n\nline two\r\nthree\rfour \n\xC3\xA9t\xC3\xA9";
  m.html = "<p>" + std::string(500, 'b') + "</p>\n";
  m.subject = std::string(200, 'S');  // one long word: encoded words
  auto r = render(m);
  ASSERT_TRUE(r);
  expect_crlf_only(*r);
  for (const auto& line : split_crlf(*r)) EXPECT_LE(line.size(), 78U) << line;
}

TEST(QuotedPrintable, KnownAnswers) {
  EXPECT_EQ(quoted_printable(""), "\r\n");
  EXPECT_EQ(quoted_printable("h\xC3\xA9llo"), "h=C3=A9llo\r\n");
  EXPECT_EQ(quoted_printable("a=b"), "a=3Db\r\n");
  EXPECT_EQ(quoted_printable("trailing \nspace\t"), "trailing=20\r\nspace=09\r\n");
  EXPECT_EQ(quoted_printable("a\nb\r\nc\rd\n"), "a\r\nb\r\nc\r\nd\r\n");
  EXPECT_EQ(quoted_printable(".\nx\n.hidden"), "=2E\r\nx\r\n=2Ehidden\r\n");
  EXPECT_EQ(quoted_printable("From me\nnot From"), "=46rom me\r\nnot From\r\n");
}

TEST(QuotedPrintable, SoftBreaksRoundTrip) {
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += "w\xC3\xB6rd=" + std::to_string(i) + (i % 7 == 0 ? " \n" : " ");
  text += std::string(200, 'x') + "\n." + std::string(80, '.') + "\n";
  const auto qp = quoted_printable(text);
  for (const auto& line : split_crlf(qp)) {
    EXPECT_LE(line.size(), 76U);
    EXPECT_FALSE(!line.empty() && (line.back() == ' ' || line.back() == '\t'))
        << "trailing white space";
    EXPECT_FALSE(line.starts_with(".")) << line;
  }
  // Decoding gives the text back with CRLF line ends.
  std::string expected;
  for (char c : text) expected += c == '\n' ? std::string("\r\n") : std::string(1, c);
  EXPECT_EQ(qp_decode(qp), expected);
}

TEST(MailDate, Rfc5322) {
  EXPECT_EQ(rfc5322_date(Seconds{}), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(Seconds{std::chrono::seconds{951'782'400}}),
            "Tue, 29 Feb 2000 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(Seconds{std::chrono::seconds{1'900'000'000}}),
            "Sun, 17 Mar 2030 17:46:40 +0000");
}

TEST(Mailbox, Accepted) {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"ada@example.com", "", "ada@example.com"},
      {"  <ada@example.com> ", "", "ada@example.com"},
      {"Ada Lovelace <ada@example.com>", "Ada Lovelace", "ada@example.com"},
      {"\"Lovelace, Ada\" <ada@example.com>", "Lovelace, Ada", "ada@example.com"},
      {"\"A \\\"q\\\" b\" <a@x.test>", "A \"q\" b", "a@x.test"},
      {"J\xC3\xA9r\xC3\xB4me <j@ex\xC3\xA4mple.test>", "J\xC3\xA9r\xC3\xB4me",
       "j@ex\xC3\xA4mple.test"},
      {"Gatehouse <no-reply@localhost>", "Gatehouse", "no-reply@localhost"},
      {"x+tag@[127.0.0.1]", "", "x+tag@[127.0.0.1]"},
  };
  for (const auto& [in, name, addr] : cases) {
    auto m = parse_mailbox(in);
    ASSERT_TRUE(m) << in << ": " << m.error().message();
    EXPECT_EQ(m->name, name) << in;
    EXPECT_EQ(m->address, addr) << in;
  }
}

TEST(Mailbox, Rejected) {
  for (const char* in : {"",
                         "plain",
                         "a@@b.test",
                         "a@b@c.test",
                         ".a@b.test",
                         "a.@b.test",
                         "a..b@c.test",
                         "a b@c.test",
                         "a@-b.test",
                         "a@b..test",
                         "a@b.test, c@d.test",
                         "<a@b.test",
                         "a@b.test>",
                         "Name <a@b.test",
                         "\"open <a@b.test>",
                         "Na\"me <a@b.test>",
                         "a@[]",
                         "\"a@b.test\"@c.test",
                         "(comment) a@b.test",
                         "group: a@b.test;"}) {
    auto m = parse_mailbox(in);
    ASSERT_FALSE(m) << in;
    EXPECT_EQ(m.error().code, make_error_code(MailError::BadAddress)) << in;
  }
  EXPECT_EQ(
      parse_mailbox(std::string(60, 'a') + "@" + std::string(200, 'b') + ".test").error().code,
      make_error_code(MailError::BadAddress));  // over 254 bytes
  EXPECT_EQ(parse_mailbox(std::string(65, 'a') + "@b.test").error().code,
            make_error_code(MailError::BadAddress));
}

TEST(Mailbox, FormatQuotesOrEncodesTheNameAndRoundTrips) {
  EXPECT_EQ(format_mailbox({"", "a@x.test"}), "a@x.test");
  EXPECT_EQ(format_mailbox({"Ada Lovelace", "a@x.test"}), "Ada Lovelace <a@x.test>");
  EXPECT_EQ(format_mailbox({"Lovelace, Ada", "a@x.test"}), "\"Lovelace, Ada\" <a@x.test>");
  EXPECT_EQ(format_mailbox({"say \"hi\" \\o/", "a@x.test"}),
            "\"say \\\"hi\\\" \\\\o/\" <a@x.test>");
  EXPECT_EQ(format_mailbox({"J\xC3\xA9r\xC3\xB4me", "a@x.test"}),
            "=?UTF-8?B?SsOpcsO0bWU=?= <a@x.test>");
  for (const Mailbox& in :
       {Mailbox{"Ada Lovelace", "a@x.test"}, Mailbox{"Lovelace, Ada", "a@x.test"},
        Mailbox{"say \"hi\" \\o/", "a@x.test"}}) {
    auto back = parse_mailbox(format_mailbox(in));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->name, in.name);
    EXPECT_EQ(back->address, in.address);
  }
}

}  // namespace
}  // namespace gh::mail
