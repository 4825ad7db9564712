#include "text/precompiled_charsmap.h"

#include <cstring>

#include "core/error.h"
#include "text/unicode.h"

namespace paradit::text {
namespace {

// darts-clone unit accessors
bool has_leaf(uint32_t unit) { return ((unit >> 8) & 1) != 0; }
uint32_t value(uint32_t unit) { return unit & ((1u << 31) - 1); }
uint32_t label(uint32_t unit) { return unit & ((1u << 31) | 0xffu); }
uint32_t offset(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }

}  // namespace

PrecompiledCharsmap::PrecompiledCharsmap(const std::string& blob) {
  PD_CHECK(blob.size() >= 4, "precompiled_charsmap: too short");
  uint32_t trie_bytes;
  std::memcpy(&trie_bytes, blob.data(), 4);
  PD_CHECK(trie_bytes % 4 == 0 && trie_bytes <= blob.size() - 4, "precompiled_charsmap: bad trie size ", trie_bytes);
  trie_.resize(trie_bytes / 4);
  std::memcpy(trie_.data(), blob.data() + 4, trie_bytes);
  normalized_ = blob.substr(4 + trie_bytes);
  PD_CHECK(!trie_.empty(), "precompiled_charsmap: empty trie");
}

bool PrecompiledCharsmap::transform(const std::string& chunk, std::string* out) const {
  size_t node = offset(trie_[0]);
  for (unsigned char c : chunk) {
    node ^= c;
    if (node >= trie_.size()) return false;
    const uint32_t unit = trie_[node];
    if (label(unit) != c) return false;
    node ^= offset(unit);
    if (node >= trie_.size()) return false;
    if (has_leaf(unit)) {
      const size_t start = value(trie_[node]);
      if (start >= normalized_.size()) return false;
      const size_t end = normalized_.find('\0', start);
      *out = normalized_.substr(start, end == std::string::npos ? std::string::npos : end - start);
      return true;  // the first (shortest) match, as Hugging Face takes results[0]
    }
  }
  return false;
}

std::string PrecompiledCharsmap::normalize(const std::string& text) const {
  if (empty()) return text;
  std::string out;
  out.reserve(text.size());
  std::string replaced;
  for (const std::string& g : graphemes(text)) {
    if (g.size() < 6 && transform(g, &replaced)) {
      out += replaced;
      continue;
    }
    for (char32_t c : utf8_to_u32(g)) {
      std::string part;
      append_utf8(part, c);
      out += transform(part, &replaced) ? replaced : part;
    }
  }
  return out;
}

}  // namespace paradit::text
