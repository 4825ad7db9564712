// Tokenizer ids against Hugging Face's on a committed corpus of 300+ awkward prompts (accents,
// CJK, emoji, punctuation runs, numbers, whitespace of every kind, truncation, the empty prompt).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/checkpoint.h"
#include "support/fixture.h"
#include "text/clip_tokenizer.h"
#include "text/t5_tokenizer.h"
#include "text/unicode.h"

namespace paradit {
namespace {

const std::string kPipeline = std::string(PARADIT_FIXTURES_DIR) + "/tiny-sd35/";

std::vector<std::string> prompts() {
  std::ifstream in(std::string(PARADIT_FIXTURES_DIR) + "/text/prompts.json");
  return nlohmann::json::parse(in).get<std::vector<std::string>>();
}

// Row i of an [N, T] int32 tensor of expected ids.
std::vector<int32_t> row(const Tensor& ids, size_t i) {
  const int64_t T = ids.size(1);
  const int32_t* p = ids.data<int32_t>() + static_cast<int64_t>(i) * T;
  return {p, p + T};
}

template <typename Encode>
void expect_corpus_matches(const char* label, const std::string& key, Encode encode) {
  const auto corpus = prompts();
  const Checkpoint expected = Checkpoint::open(test::fixture_path("text/token_ids"));
  const Tensor ids = expected.get(key);
  ASSERT_EQ(ids.size(0), static_cast<int64_t>(corpus.size()));
  ASSERT_GE(corpus.size(), 300u);
  int mismatches = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const auto got = encode(corpus[i]);
    if (got != row(ids, i) && ++mismatches <= 5) {
      std::string g, w;
      for (int32_t v : got) g += std::to_string(v) + " ";
      for (int32_t v : row(ids, i)) w += std::to_string(v) + " ";
      ADD_FAILURE() << label << " differs on " << nlohmann::json(corpus[i]).dump() << "\n  got  " << g << "\n  want "
                    << w;
    }
  }
  std::printf("  [tokens] %-28s %zu prompts, %d differ\n", label, corpus.size(), mismatches);
  EXPECT_EQ(mismatches, 0) << label;
}

TEST(ClipTokenizer, TokenizerJsonMatchesHf) {
  const auto tok = text::ClipTokenizer::from_folder(kPipeline + "tokenizer");
  EXPECT_EQ(tok.pad_id(), 49407);
  expect_corpus_matches("CLIP-L tokenizer.json", "clip_l", [&](const std::string& p) { return tok.encode(p); });
}

TEST(ClipTokenizer, VocabAndMergesMatchHf) {
  const auto tok = text::ClipTokenizer::from_folder(kPipeline + "tokenizer_2");
  EXPECT_EQ(tok.pad_id(), 0);  // "!"
  expect_corpus_matches("CLIP-G vocab+merges", "clip_g", [&](const std::string& p) { return tok.encode(p); });
}

TEST(ClipTokenizer, BundledVocabularyMatchesHf) {
  const auto l = text::ClipTokenizer::bundled("<|endoftext|>");
  const auto g = text::ClipTokenizer::bundled("!");
  expect_corpus_matches("CLIP bundled, pad eos", "clip_l", [&](const std::string& p) { return l.encode(p); });
  expect_corpus_matches("CLIP bundled, pad !", "clip_g", [&](const std::string& p) { return g.encode(p); });
}

TEST(T5Tokenizer, TokenizerJsonMatchesHf) {
  const auto tok = text::T5Tokenizer::from_folder(kPipeline + "tokenizer_3");
  expect_corpus_matches("T5 tokenizer.json, 256", "t5_256", [&](const std::string& p) { return tok.encode(p, 256); });
  expect_corpus_matches("T5 tokenizer.json, 77", "t5_77", [&](const std::string& p) { return tok.encode(p, 77); });
}

TEST(T5Tokenizer, SentencepieceModelMatchesHf) {
  const auto tok = text::T5Tokenizer::from_sentencepiece(kPipeline + "tokenizer_3/spiece.model");
  expect_corpus_matches("T5 spiece.model, 256", "t5_256", [&](const std::string& p) { return tok.encode(p, 256); });
}

TEST(Tokenizers, BadFilesAreErrors) {
  EXPECT_THROW(text::ClipTokenizer::from_folder(std::string(PARADIT_FIXTURES_DIR) + "/ops"), Error);
  EXPECT_THROW(text::T5Tokenizer::from_folder(std::string(PARADIT_FIXTURES_DIR) + "/ops"), Error);
  EXPECT_THROW(text::T5Tokenizer::from_sentencepiece(test::fixture_path("ops/linear")), Error);
}

}  // namespace
}  // namespace paradit

// Tokenization is linear in the prompt: a 1 MB prompt (many words, one word of 1 MB, random
// characters) tokenizes in under a second per tokenizer on a quiet machine (0.01 to 0.43 s
// measured; the bound is 1.5 s because the suite runs tests side by side), and sixteen times the
// text costs about sixteen times the time (quadratic would be 256). BPE on one 64 KB word took
// 29 s before.
namespace paradit {
namespace {

std::string big_prompt(const std::string& kind, size_t bytes) {
  std::mt19937 rng(7);
  std::string s;
  const char* words[] = {"red", "fox", "in", "the", "snow", "golden", "hour", "café", "naïve", "🐱"};
  const std::string chars = "abcdefghij klmnop!?.,";
  while (s.size() < bytes) {
    if (kind == "words") s += std::string(words[rng() % 10]) + " ";
    else if (kind == "word") s += 'a';
    else s += chars[rng() % chars.size()];
  }
  return s;
}

template <class F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST(Tokenizers, LongPromptsTokenizeInLinearTime) {
  const auto clip = text::ClipTokenizer::from_folder(kPipeline + "tokenizer_2");
  const auto t5 = text::T5Tokenizer::from_folder(kPipeline + "tokenizer_3");
  for (const std::string kind : {"words", "word", "mixed"}) {
    const std::string small_text = big_prompt(kind, 64 << 10), full = big_prompt(kind, 1 << 20);
    for (const std::string which : {"clip", "t5"}) {
      auto run = [&](const std::string& text) {
        return seconds([&] { which == "clip" ? (void)clip.encode(text) : (void)t5.encode(text, 256); });
      };
      const double small = std::min(run(small_text), run(small_text)), large = std::min(run(full), run(full));
      std::printf("  %-4s %-5s 64 KB %.3f s, 1 MB %.3f s\n", which.c_str(), kind.c_str(), small, large);
      EXPECT_LT(large, 1.5) << which << " " << kind;
      EXPECT_LT(large, 48 * small + 0.05) << which << " " << kind << ": worse than linear";
    }
  }
}

TEST(Tokenizers, WordCacheStaysBounded) {
  // 50,000 distinct words through one tokenizer: the cache starts again instead of growing.
  const auto clip = text::ClipTokenizer::from_folder(kPipeline + "tokenizer");
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "w" + std::to_string(i) + "x ";
  (void)clip.tokenize(text);
  EXPECT_LE(clip.cached_words(), text::ClipTokenizer::kMaxCachedWords);
  EXPECT_GT(clip.cached_words(), 0u);
}

}  // namespace paradit

namespace paradit {
namespace {

// The ICU-free twins (what a PARADIT_ICU=OFF build, the GPU bundle, tokenises with) give ICU's
// answers on ASCII text, and refuse other text rather than tokenising it differently.
TEST(Unicode, AsciiTwinsEqualIcuOnAscii) {
  std::string all;
  for (int c = 1; c < 128; ++c) all.push_back(static_cast<char>(c));
  for (const std::string& s : {all, std::string("A photo of a Cat, 42 times!\r\n\tOK  "), std::string("\r\n\n\r")}) {
    EXPECT_EQ(text::ascii_only::nfc(s), text::nfc(s));
    EXPECT_EQ(text::ascii_only::nfkc(s), text::nfkc(s));
    EXPECT_EQ(text::ascii_only::lowercase(s), text::lowercase(s));
    EXPECT_EQ(text::ascii_only::graphemes(s), text::graphemes(s));
  }
  for (char32_t c = 0; c < 128; ++c) {
    EXPECT_EQ(text::ascii_only::is_letter(c), text::is_letter(c)) << static_cast<int>(c);
    EXPECT_EQ(text::ascii_only::is_number(c), text::is_number(c)) << static_cast<int>(c);
    EXPECT_EQ(text::ascii_only::is_whitespace(c), text::is_whitespace(c)) << static_cast<int>(c);
  }
  for (char32_t c : {U'\u00a0', U'\u2003', U'\u3000', U'\u2028'})
    EXPECT_EQ(text::ascii_only::is_whitespace(c), text::is_whitespace(c)) << static_cast<int>(c);
  EXPECT_THROW(text::ascii_only::nfkc("caf\xc3\xa9"), Error);
  EXPECT_THROW(text::ascii_only::lowercase("\xc3\x89t\xc3\xa9"), Error);
}

}  // namespace
}  // namespace paradit
