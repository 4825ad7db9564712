// The T5 Unigram tokenizer, giving the ids of Hugging Face's T5TokenizerFast: special tokens
// (<pad>, </s>, <unk>, <extra_id_N>) split out first; the precompiled charsmap; whitespace
// split and Metaspace "▁" pre-tokenization; the Viterbi
// best segmentation over the piece scores (unknown characters fused into one <unk>); then
// </s>, truncation and padding to max_sequence_length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "text/precompiled_charsmap.h"
#include "text/special_tokens.h"

namespace paradit::text {

class T5Tokenizer {
 public:
  // A tokenizer folder: tokenizer.json (Unigram), else spiece.model.
  static T5Tokenizer from_folder(const std::string& dir);
  static T5Tokenizer from_tokenizer_json(const std::string& path);
  static T5Tokenizer from_sentencepiece(const std::string& path);

  // tokens + </s>, truncated to max_length (</s> kept) and padded with <pad>.
  std::vector<int32_t> encode(const std::string& text, int max_length = 256) const;
  // No </s>, no padding; at most `limit` ids (words after the limit are not segmented).
  std::vector<int32_t> tokenize(const std::string& text, size_t limit = SIZE_MAX) const;

  int32_t pad_id() const { return pad_; }
  int32_t eos_id() const { return eos_; }
  int32_t unk_id() const { return unk_; }
  size_t vocab_size() const { return pieces_.size(); }

 private:
  void finish();
  std::vector<std::string> pre_tokenize(const std::string& text) const;
  void segment(const std::string& piece, std::vector<int32_t>& out) const;

  std::vector<std::pair<std::string, float>> pieces_;
  // Looked up by string_view, so the Viterbi lattice allocates nothing per candidate piece.
  struct ViewHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, ViewHash, std::equal_to<>> piece_id_;
  // Every prefix of every piece: the lattice stops extending a candidate once it is no prefix,
  // so a long word costs a few lookups per byte rather than max_piece_bytes_.
  std::unordered_set<std::string, ViewHash, std::equal_to<>> prefixes_;
  size_t max_piece_bytes_ = 0;
  float unk_score_ = -10.f;
  PrecompiledCharsmap charsmap_;
  SpecialTokens specials_;
  int32_t pad_ = 0, eos_ = 1, unk_ = 2;
};

}  // namespace paradit::text
