// sentencepiece's precompiled normalisation map (the `precompiled_charsmap` of nmt_nfkc and
// friends): a darts-clone double-array trie over UTF-8 keys whose values index a blob of
// NUL-terminated replacement strings. Applied per extended grapheme cluster exactly as Hugging
// Face's `Precompiled` normalizer does, quirks included.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace paradit::text {

class PrecompiledCharsmap {
 public:
  PrecompiledCharsmap() = default;
  // Throws paradit::Error when the blob is malformed.
  explicit PrecompiledCharsmap(const std::string& blob);
  bool empty() const { return trie_.empty(); }
  std::string normalize(const std::string& text) const;

 private:
  // The replacement for the shortest key that prefixes `chunk`, or false.
  bool transform(const std::string& chunk, std::string* out) const;
  std::vector<uint32_t> trie_;
  std::string normalized_;
};

}  // namespace paradit::text
