#include "text/t5_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "io/mapped_file.h"
#include "io/json_file.h"
#include "text/sentencepiece_model.h"
#include "text/unicode.h"

namespace paradit::text {
namespace fs = std::filesystem;
namespace {

const std::string kMeta = "\xe2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK, sentencepiece's space

std::string read_file(const std::string& path) { return read_regular_file(path); }

std::string base64_decode(const std::string& in) {
  std::string out;
  int val = 0, bits = -8;
  for (unsigned char c : in) {
    int d;
    if (c >= 'A' && c <= 'Z') d = c - 'A';
    else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
    else if (c >= '0' && c <= '9') d = c - '0' + 52;
    else if (c == '+') d = 62;
    else if (c == '/') d = 63;
    else if (c == '=') break;
    else fail("tokenizer.json: bad base64 in precompiled_charsmap");
    val = (val << 6) + d;
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

// Finds the Precompiled normalizer's charsmap anywhere in the normalizer tree.
std::string find_charsmap(const nlohmann::json& n) {
  if (n.is_object()) {
    if (n.value("type", "") == "Precompiled" && n.contains("precompiled_charsmap") &&
        n["precompiled_charsmap"].is_string())
      return base64_decode(n["precompiled_charsmap"].get<std::string>());
    if (n.contains("normalizers"))
      for (const auto& child : n["normalizers"])
        if (auto s = find_charsmap(child); !s.empty()) return s;
  }
  return "";
}

}  // namespace

T5Tokenizer T5Tokenizer::from_folder(const std::string& dir) {
  if (fs::exists(fs::path(dir) / "tokenizer.json")) return from_tokenizer_json((fs::path(dir) / "tokenizer.json").string());
  PD_CHECK(fs::exists(fs::path(dir) / "spiece.model"), dir, ": no tokenizer.json and no spiece.model");
  return from_sentencepiece((fs::path(dir) / "spiece.model").string());
}

T5Tokenizer T5Tokenizer::from_tokenizer_json(const std::string& path) try {
  const auto j = nlohmann::json::parse(read_file(path), nullptr, /*allow_exceptions=*/false);
  PD_CHECK(!j.is_discarded() && j.contains("model"), path, ": not valid tokenizer JSON");
  const auto& model = j["model"];
  PD_CHECK(model.value("type", "") == "Unigram" && model.contains("vocab"), path, ": not a Unigram tokenizer");
  T5Tokenizer t;
  for (const auto& entry : model["vocab"])
    t.pieces_.emplace_back(entry.at(0).get<std::string>(), entry.at(1).get<float>());
  if (model.contains("unk_id") && model["unk_id"].is_number_integer()) t.unk_ = model["unk_id"].get<int32_t>();
  if (j.contains("normalizer")) {
    const std::string blob = find_charsmap(j["normalizer"]);
    if (!blob.empty()) t.charsmap_ = PrecompiledCharsmap(blob);
  }
  t.finish();
  if (j.contains("added_tokens"))
    for (const auto& a : j["added_tokens"]) {
      const std::string content = a.at("content").get<std::string>();
      const int32_t id = a.at("id").get<int32_t>();
      t.specials_.add(content, id);
      if (id >= static_cast<int32_t>(t.pieces_.size())) t.pieces_.resize(static_cast<size_t>(id) + 1);
      t.pieces_[static_cast<size_t>(id)].first = content;
    }
  return t;
} catch (const nlohmann::json::exception& e) {
  json_type_error(path, e);
}

T5Tokenizer T5Tokenizer::from_sentencepiece(const std::string& path) {
  const SentencePieceModel sp = parse_sentencepiece_model(read_file(path), path);
  T5Tokenizer t;
  for (const auto& p : sp.pieces) t.pieces_.emplace_back(p.piece, p.score);
  t.unk_ = sp.unk_id;
  if (!sp.precompiled_charsmap.empty()) t.charsmap_ = PrecompiledCharsmap(sp.precompiled_charsmap);
  t.finish();
  // T5TokenizerFast's defaults: the control pieces and 100 sentinels after the vocabulary.
  for (const auto& p : sp.pieces)
    if (p.type == SentencePieceModel::Piece::Control || p.type == SentencePieceModel::Piece::Unknown)
      t.specials_.add(p.piece, t.piece_id_.at(p.piece));
  for (int i = 99; i >= 0; --i) {
    const std::string sentinel = "<extra_id_" + std::to_string(i) + ">";
    t.specials_.add(sentinel, static_cast<int32_t>(t.pieces_.size()));
    t.pieces_.emplace_back(sentinel, 0.f);
  }
  return t;
}

void T5Tokenizer::finish() {
  PD_CHECK(!pieces_.empty(), "T5 tokenizer: empty vocabulary");
  float min_score = std::numeric_limits<float>::max();
  for (size_t i = 0; i < pieces_.size(); ++i) {
    piece_id_.emplace(pieces_[i].first, static_cast<int32_t>(i));
    max_piece_bytes_ = std::max(max_piece_bytes_, pieces_[i].first.size());
    for (size_t len = 1; len <= pieces_[i].first.size(); ++len) prefixes_.emplace(pieces_[i].first.substr(0, len));
    min_score = std::min(min_score, pieces_[i].second);
  }
  unk_score_ = min_score - 10.f;
  auto find = [&](const char* s, int32_t fallback) {
    auto it = piece_id_.find(s);
    return it == piece_id_.end() ? fallback : it->second;
  };
  pad_ = find("<pad>", 0);
  eos_ = find("</s>", 1);
  PD_CHECK(unk_ >= 0 && static_cast<size_t>(unk_) < pieces_.size(), "T5 tokenizer: unk id out of range");
}

// The charsmap, then WhitespaceSplit + Metaspace: each whitespace-separated word gets a
// leading "▁" and is cut again before any "▁" it holds, so each piece starts with "▁".
std::vector<std::string> T5Tokenizer::pre_tokenize(const std::string& text) const {
  const std::u32string s = utf8_to_u32(charsmap_.normalize(text));
  std::vector<std::string> pieces;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_whitespace(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !is_whitespace(s[j])) ++j;
    if (j == i) break;
    std::string word = u32_to_utf8(s.substr(i, j - i));
    if (word.compare(0, kMeta.size(), kMeta) != 0) word = kMeta + word;
    for (size_t start = 0; start < word.size();) {
      size_t next = word.find(kMeta, start + kMeta.size());
      if (next == std::string::npos) next = word.size();
      pieces.push_back(word.substr(start, next - start));
      start = next;
    }
    i = j;
  }
  return pieces;
}

// Viterbi over the lattice of vocabulary pieces for one "▁word" piece.
void T5Tokenizer::segment(const std::string& piece, std::vector<int32_t>& out) const {
  const size_t n = piece.size();
  struct Node {
    float score = 0;
    int64_t start = -1;
    int32_t id = -1;
  };
  std::vector<Node> best(n + 1);
  best[0].start = 0;
  for (size_t start = 0; start < n; ++start) {
    if (best[start].start < 0) continue;
    const unsigned char lead = static_cast<unsigned char>(piece[start]);
    const size_t char_len = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : 4;
    bool single = false;
    for (size_t len = 1; len <= max_piece_bytes_ && start + len <= n; ++len) {
      const std::string_view candidate = std::string_view(piece).substr(start, len);
      if (!prefixes_.count(candidate)) break;
      auto it = piece_id_.find(candidate);
      if (it == piece_id_.end()) continue;
      const float score = best[start].score + pieces_[static_cast<size_t>(it->second)].second;
      Node& target = best[start + len];
      if (target.start < 0 || score > target.score) target = {score, static_cast<int64_t>(start), it->second};
      if (len == char_len) single = true;
    }
    if (!single && start + char_len <= n) {
      const float score = best[start].score + unk_score_;
      Node& target = best[start + char_len];
      if (target.start < 0 || score > target.score) target = {score, static_cast<int64_t>(start), unk_};
    }
  }
  std::vector<int32_t> ids;
  for (size_t pos = n; pos > 0; pos = static_cast<size_t>(best[pos].start)) ids.push_back(best[pos].id);
  std::reverse(ids.begin(), ids.end());
  for (int32_t id : ids)
    if (!(id == unk_ && !out.empty() && out.back() == unk_)) out.push_back(id);  // fuse runs of <unk>
}

std::vector<int32_t> T5Tokenizer::tokenize(const std::string& text, size_t limit) const {
  std::vector<int32_t> ids;
  for (const Segment& seg : specials_.split(text)) {
    if (ids.size() >= limit) break;
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    for (const std::string& piece : pre_tokenize(seg.text)) {
      if (ids.size() >= limit) break;
      segment(piece, ids);
    }
  }
  if (ids.size() > limit) ids.resize(limit);
  return ids;
}

std::vector<int32_t> T5Tokenizer::encode(const std::string& text, int max_length) const {
  PD_CHECK(max_length >= 1, "T5 tokenizer: max_length must be at least 1");
  std::vector<int32_t> ids = tokenize(text, static_cast<size_t>(max_length - 1));
  if (ids.size() > static_cast<size_t>(max_length - 1)) ids.resize(static_cast<size_t>(max_length - 1));
  ids.push_back(eos_);
  ids.resize(static_cast<size_t>(max_length), pad_);
  return ids;
}

}  // namespace paradit::text
