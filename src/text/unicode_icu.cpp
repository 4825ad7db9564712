// The Unicode functions through ICU: normalisation (NFC, NFKC), lower case, character
// classes and grapheme clusters, exactly as the tokenizers' Python references compute them.
#include <unicode/brkiter.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>

#include <memory>

#include "core/error.h"
#include "text/unicode.h"

namespace paradit::text {

namespace {

std::string normalize(const std::string& s, const icu::Normalizer2* (*instance)(UErrorCode&)) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* norm = instance(status);
  PD_CHECK(U_SUCCESS(status), "ICU normalizer unavailable: ", u_errorName(status));
  const icu::UnicodeString in = icu::UnicodeString::fromUTF8(u32_to_utf8(utf8_to_u32(s)));
  const icu::UnicodeString out = norm->normalize(in, status);
  PD_CHECK(U_SUCCESS(status), "ICU normalisation failed: ", u_errorName(status));
  std::string result;
  out.toUTF8String(result);
  return result;
}

}  // namespace

std::string nfc(const std::string& s) { return normalize(s, &icu::Normalizer2::getNFCInstance); }
std::string nfkc(const std::string& s) { return normalize(s, &icu::Normalizer2::getNFKCInstance); }

std::string lowercase(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : utf8_to_u32(s)) {
    UChar in[2];
    int32_t in_len = 0;
    U16_APPEND_UNSAFE(in, in_len, c);
    UChar lower[8];
    UErrorCode status = U_ZERO_ERROR;
    const int32_t n = u_strToLower(lower, 8, in, in_len, "", &status);
    if (U_FAILURE(status) || n <= 0 || n > 8) {
      append_utf8(out, c);
      continue;
    }
    for (int32_t i = 0; i < n;) {
      UChar32 cp;
      U16_NEXT(lower, i, n, cp);
      append_utf8(out, static_cast<char32_t>(cp));
    }
  }
  return out;
}

bool is_letter(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_L_MASK) != 0; }
bool is_number(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_N_MASK) != 0; }
bool is_whitespace(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)) != 0; }

std::vector<std::string> graphemes(const std::string& s) {
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::BreakIterator> it(icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), status));
  PD_CHECK(U_SUCCESS(status), "ICU grapheme iterator unavailable: ", u_errorName(status));
  const icu::UnicodeString text = icu::UnicodeString::fromUTF8(s);
  it->setText(text);
  std::vector<std::string> out;
  int32_t start = it->first();
  for (int32_t end = it->next(); end != icu::BreakIterator::DONE; start = end, end = it->next()) {
    std::string piece;
    text.tempSubStringBetween(start, end).toUTF8String(piece);
    out.push_back(std::move(piece));
  }
  return out;
}

}  // namespace paradit::text
