// The Unicode services the tokenizers need, through ICU: UTF-8 <-> code points, NFC, the
// per-character lowercase mapping Hugging Face's Lowercase normalizer applies, character
// classes (\p{L}, \p{N}, \s as Rust's regex defines them) and extended grapheme clusters.
#pragma once

#include <string>
#include <vector>

namespace paradit::text {

// Invalid UTF-8 bytes decode to U+FFFD, as Rust's from_utf8_lossy does.
std::u32string utf8_to_u32(const std::string& s);
std::string u32_to_utf8(const std::u32string& s);
void append_utf8(std::string& out, char32_t c);

std::string nfc(const std::string& s);
std::string nfkc(const std::string& s);
// Each code point mapped on its own through the full (SpecialCasing) lowercase mapping.
std::string lowercase(const std::string& s);

bool is_letter(char32_t c);      // \p{L}
bool is_number(char32_t c);      // \p{N}
bool is_whitespace(char32_t c);  // \s: the White_Space property

std::vector<std::string> graphemes(const std::string& s);  // extended grapheme clusters

// The same functions without ICU (what a PARADIT_ICU=OFF build uses): equal to the above on
// ASCII text; normalisation, lower-casing and graphemes refuse other text with an Error.
namespace ascii_only {
std::string nfc(const std::string& s);
std::string nfkc(const std::string& s);
std::string lowercase(const std::string& s);
bool is_letter(char32_t c);
bool is_number(char32_t c);
bool is_whitespace(char32_t c);
std::vector<std::string> graphemes(const std::string& s);
}  // namespace ascii_only

}  // namespace paradit::text
