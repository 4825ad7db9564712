// CLIP's byte-level BPE tokenizer, giving the ids of Hugging Face's CLIPTokenizer(Fast):
// NFC, whitespace runs to one space, lowercase; CLIP's pre-tokenization pattern; byte-level
// BPE with the "</w>" word end; <|startoftext|> ... <|endoftext|>, truncated and padded to 77
// with the tokenizer's own pad token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "text/special_tokens.h"

namespace paradit::text {

class ClipTokenizer {
 public:
  // A tokenizer folder: tokenizer.json, or vocab.json + merges.txt (with the pad token from
  // tokenizer_config.json / special_tokens_map.json when present).
  static ClipTokenizer from_folder(const std::string& dir);
  // The vocabulary bundled with paradit (OpenAI's bpe_simple_vocab_16e6), for single-file
  // checkpoints that ship no tokenizer. pad: "<|endoftext|>" (CLIP-L) or "!" (CLIP-G).
  static ClipTokenizer bundled(const std::string& pad_token);

  // BOS + tokens + EOS, truncated to max_length (EOS kept) and padded to it.
  std::vector<int32_t> encode(const std::string& text, int max_length = 77) const;
  // The BPE ids of the text alone, without BOS/EOS or padding; at most `limit` of them (the
  // words after the limit are not tokenized at all).
  std::vector<int32_t> tokenize(const std::string& text, size_t limit = SIZE_MAX) const;

  // Words already split are cached, bounded so that a stream of distinct prompts cannot grow it:
  // at kMaxCachedWords it starts again, and words longer than kMaxCachedWordBytes are not kept.
  static constexpr size_t kMaxCachedWords = 4096, kMaxCachedWordBytes = 64;
  size_t cached_words() const;
  int32_t bos_id() const { return bos_; }
  int32_t eos_id() const { return eos_; }
  int32_t pad_id() const { return pad_; }

 private:
  void finish(const std::string& pad_token);
  void bpe_word(const std::string& word, std::vector<int32_t>& out) const;
  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<std::string, int32_t> merge_rank_;  // "a b" -> rank
  SpecialTokens specials_;
  int32_t bos_ = 49406, eos_ = 49407, pad_ = 49407;
  struct Cache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>> words;
  };
  std::shared_ptr<Cache> cache_ = std::make_shared<Cache>();
};

// The folder holding the bundled assets (assets/ of the source tree unless $PARADIT_ASSETS).
std::string assets_dir();

}  // namespace paradit::text
