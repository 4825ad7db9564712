// Splitting raw text around special ("added") tokens before any normalisation, as Hugging
// Face's tokenizers do: "<|startoftext|>a cat" -> [special 49406] ["a cat"].
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace paradit::text {

struct Segment {
  std::string text;  // plain text to tokenize, when id < 0
  int32_t id = -1;   // the special token's id otherwise
};

class SpecialTokens {
 public:
  void add(const std::string& content, int32_t id) { tokens_.emplace_back(content, id); }
  // Leftmost match first; among matches at one position the longest wins.
  std::vector<Segment> split(const std::string& text) const;
  bool empty() const { return tokens_.empty(); }

 private:
  std::vector<std::pair<std::string, int32_t>> tokens_;
};

}  // namespace paradit::text
