// The Unicode functions without ICU (used by a build with PARADIT_ICU=OFF, such as the GPU bundle,
// which cannot carry ICU's 30 MB of data): exact for ASCII text, which needs no normalisation
// and has one code point per grapheme (CR LF excepted); text with other characters is refused
// by name instead of being tokenised differently from the Python references. The character
// classes answer ASCII exactly and call every other code point a letter, except the Unicode
// white space (used only to split text that was already refused or is ASCII).
#include "core/error.h"
#include "text/unicode.h"

namespace paradit::text::ascii_only {
namespace {

bool ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

void require_ascii(const std::string& s, const char* what) {
  PD_CHECK(ascii(s), what, ": this build of paradit has no ICU (PARADIT_ICU=OFF), so only ASCII text is supported");
}

}  // namespace

std::string nfc(const std::string& s) {
  require_ascii(s, "NFC normalisation");
  return s;
}

std::string nfkc(const std::string& s) {
  require_ascii(s, "NFKC normalisation");
  return s;
}

std::string lowercase(const std::string& s) {
  require_ascii(s, "lower-casing");
  std::string out = s;
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_whitespace(char32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0d) || c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
         c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}
bool is_letter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  return !is_whitespace(c);
}
bool is_number(char32_t c) { return c >= '0' && c <= '9'; }

std::vector<std::string> graphemes(const std::string& s) {
  require_ascii(s, "grapheme segmentation");
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      out.emplace_back("\r\n");
      ++i;
    } else {
      out.emplace_back(1, s[i]);
    }
  }
  return out;
}

}  // namespace paradit::text::ascii_only

#ifndef PARADIT_HAVE_ICU
namespace paradit::text {
std::string nfc(const std::string& s) { return ascii_only::nfc(s); }
std::string nfkc(const std::string& s) { return ascii_only::nfkc(s); }
std::string lowercase(const std::string& s) { return ascii_only::lowercase(s); }
bool is_letter(char32_t c) { return ascii_only::is_letter(c); }
bool is_number(char32_t c) { return ascii_only::is_number(c); }
bool is_whitespace(char32_t c) { return ascii_only::is_whitespace(c); }
std::vector<std::string> graphemes(const std::string& s) { return ascii_only::graphemes(s); }
}  // namespace paradit::text
#endif
