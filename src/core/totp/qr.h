// QR codes for authenticator enrolment: an otpauth:// URI as an inline SVG
// the hosted page shows. Encoding by libqrencode; the SVG is ours (a few
// lines: libqrencode gives a module matrix, not an image).
#pragma once

#include <string>
#include <string_view>

namespace gh::totp {

// An SVG document (no XML prolog, safe to inline in HTML) drawing `text` as a
// QR code with error correction level M, a 4-module quiet zone and
// `module_px` pixels per module. Empty if `text` cannot be encoded (too long).
[[nodiscard]] std::string qr_svg(std::string_view text, int module_px = 4);

}  // namespace gh::totp
