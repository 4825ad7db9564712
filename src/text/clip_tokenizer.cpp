#include "text/clip_tokenizer.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <queue>
#include <sstream>

#include "core/error.h"
#include "io/mapped_file.h"
#include "io/json_file.h"
#include "text/unicode.h"

namespace paradit::text {
namespace fs = std::filesystem;
namespace {

// GPT-2's reversible byte -> printable code point map, which CLIP's vocabulary is written in.
const std::vector<char32_t>& byte_encoder() {
  static const std::vector<char32_t> table = [] {
    std::vector<char32_t> t(256, 0);
    std::vector<bool> direct(256, false);
    for (int b = '!'; b <= '~'; ++b) direct[static_cast<size_t>(b)] = true;
    for (int b = 0xa1; b <= 0xac; ++b) direct[static_cast<size_t>(b)] = true;
    for (int b = 0xae; b <= 0xff; ++b) direct[static_cast<size_t>(b)] = true;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) t[static_cast<size_t>(b)] = direct[static_cast<size_t>(b)] ? static_cast<char32_t>(b) : next++;
    return t;
  }();
  return table;
}

std::string read_text(const std::string& path) { return read_regular_file(path); }

std::string read_gzip(const std::string& path) {
  size_t size = 0;
  ::close(open_regular_file(path, &size));  // a FIFO would block gzopen
  gzFile f = gzopen(path.c_str(), "rb");
  PD_CHECK(f != nullptr, path, ": cannot open");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  const bool ok = n == 0;
  gzclose(f);
  PD_CHECK(ok, path, ": corrupt gzip data");
  return out;
}

// The pad token named by tokenizer_config.json or special_tokens_map.json, if any.
std::string configured_pad(const std::string& dir) {
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const fs::path p = fs::path(dir) / name;
    if (!fs::exists(p)) continue;
    const auto j = read_json_file(p.string());
    if (!j.contains("pad_token")) continue;
    const auto& pad = j["pad_token"];
    if (pad.is_string()) return pad.get<std::string>();
    if (pad.is_object() && pad.contains("content") && pad["content"].is_string()) return pad["content"].get<std::string>();
  }
  return "<|endoftext|>";
}

// CLIP's pattern: <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// applied left to right, alternatives in order; whitespace between matches is dropped.
std::vector<std::u32string> pre_tokenize(const std::u32string& s) {
  static const std::u32string literals[] = {U"<|startoftext|>", U"<|endoftext|>", U"'s", U"'t", U"'re",
                                            U"'ve", U"'m", U"'ll", U"'d"};
  std::vector<std::u32string> out;
  size_t i = 0;
  while (i < s.size()) {
    bool matched = false;
    for (const auto& lit : literals)
      if (s.compare(i, lit.size(), lit) == 0) {
        out.push_back(lit);
        i += lit.size();
        matched = true;
        break;
      }
    if (matched) continue;
    const char32_t c = s[i];
    size_t j = i + 1;
    if (is_letter(c)) {
      while (j < s.size() && is_letter(s[j])) ++j;
    } else if (is_number(c)) {
      // a single number character
    } else if (!is_whitespace(c)) {
      while (j < s.size() && !is_whitespace(s[j]) && !is_letter(s[j]) && !is_number(s[j])) ++j;
    } else {
      ++i;
      continue;
    }
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// Collapses each run of whitespace to one space (the normalizer's Replace(\s+, " ")).
std::u32string collapse_whitespace(const std::u32string& s) {
  std::u32string out;
  for (char32_t c : s) {
    if (is_whitespace(c)) {
      if (out.empty() || out.back() != U' ' || !is_whitespace(out.back())) out.push_back(U' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string assets_dir() {
  if (const char* env = std::getenv("PARADIT_ASSETS"); env && *env) return env;
  // The source tree's assets in a build folder; the installed copy once installed elsewhere.
  std::error_code ec;
  if (fs::exists(fs::path(PARADIT_ASSETS_DIR) / "clip", ec)) return PARADIT_ASSETS_DIR;
  return PARADIT_INSTALLED_ASSETS_DIR;
}

ClipTokenizer ClipTokenizer::from_folder(const std::string& dir) try {
  ClipTokenizer t;
  const fs::path json_path = fs::path(dir) / "tokenizer.json";
  if (fs::exists(json_path)) {
    const auto j = read_json_file(json_path.string());
    PD_CHECK(j.contains("model") && j["model"].value("type", "") == "BPE" && j["model"].contains("vocab") &&
                 j["model"].contains("merges"),
             json_path.string(), ": not a BPE tokenizer");
    for (const auto& [token, id] : j["model"]["vocab"].items()) t.vocab_[token] = id.get<int32_t>();
    int32_t rank = 0;
    for (const auto& m : j["model"]["merges"]) {
      const std::string merge = m.is_string() ? m.get<std::string>()
                                              : m.at(0).get<std::string>() + " " + m.at(1).get<std::string>();
      t.merge_rank_.emplace(merge, rank++);
    }
    if (j.contains("added_tokens"))
      for (const auto& a : j["added_tokens"]) t.vocab_[a.at("content").get<std::string>()] = a.at("id").get<int32_t>();
  } else {
    const fs::path vocab = fs::path(dir) / "vocab.json", merges = fs::path(dir) / "merges.txt";
    PD_CHECK(fs::exists(vocab) && fs::exists(merges), dir, ": no tokenizer.json, and no vocab.json + merges.txt");
    const auto vocab_json = read_json_file(vocab.string());
    for (const auto& [token, id] : vocab_json.items()) t.vocab_[token] = id.get<int32_t>();
    std::istringstream lines(read_text(merges.string()));
    std::string line;
    int32_t rank = 0;
    while (std::getline(lines, line)) {
      if (line.empty() || line.rfind("#version", 0) == 0) continue;
      t.merge_rank_.emplace(line, rank++);
    }
  }
  t.finish(configured_pad(dir));
  return t;
} catch (const nlohmann::json::exception& e) {
  json_type_error(dir, e);
}

ClipTokenizer ClipTokenizer::bundled(const std::string& pad_token) {
  const std::string path = assets_dir() + "/clip/bpe_simple_vocab_16e6.txt.gz";
  std::istringstream lines(read_gzip(path));
  std::vector<std::string> merges;
  std::string line;
  std::getline(lines, line);  // the "#version" header
  while (merges.size() < 49152 - 256 - 2 && std::getline(lines, line)) merges.push_back(line);
  PD_CHECK(merges.size() == 49152 - 256 - 2, path, ": expected 48894 merges, found ", merges.size());
  // OpenAI's SimpleTokenizer order: bytes, bytes + "</w>", merges, the two specials.
  // The byte symbols come in the order of their code points (printable bytes first).
  std::vector<char32_t> symbols = byte_encoder();
  std::sort(symbols.begin(), symbols.end());
  ClipTokenizer t;
  int32_t id = 0;
  for (int pass = 0; pass < 2; ++pass)
    for (char32_t c : symbols) {
      std::string tok;
      append_utf8(tok, c);
      t.vocab_[pass ? tok + "</w>" : tok] = id++;
    }
  int32_t rank = 0;
  for (const auto& m : merges) {
    const auto space = m.find(' ');
    PD_CHECK(space != std::string::npos, path, ": malformed merge '", m, "'");
    t.vocab_[m.substr(0, space) + m.substr(space + 1)] = id++;
    t.merge_rank_.emplace(m, rank++);
  }
  t.vocab_["<|startoftext|>"] = id++;
  t.vocab_["<|endoftext|>"] = id++;
  t.finish(pad_token);
  return t;
}

void ClipTokenizer::finish(const std::string& pad_token) {
  auto id_of = [&](const std::string& tok) {
    auto it = vocab_.find(tok);
    PD_CHECK(it != vocab_.end(), "CLIP tokenizer: '", tok, "' is not in the vocabulary");
    return it->second;
  };
  bos_ = id_of("<|startoftext|>");
  eos_ = id_of("<|endoftext|>");
  pad_ = id_of(pad_token);
  specials_.add("<|startoftext|>", bos_);
  specials_.add("<|endoftext|>", eos_);
  // transformers registers the pad token as an added token, so even SD3.5's CLIP-G pad "!"
  // is split out of the text: "wow!!!" -> "wow", "!", "!", "!".
  specials_.add(pad_token, pad_);
}

void ClipTokenizer::bpe_word(const std::string& word, std::vector<int32_t>& out) const {
  {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto it = cache_->words.find(word);
    if (it != cache_->words.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  // Byte-level BPE in O(n log n): a heap of adjacent pairs by merge rank, ties by position, so
  // equal pairs merge left to right exactly as the reference loop (which merges every occurrence
  // of the best pair per pass, in O(n^2)) does. A pair whose symbols changed since it was pushed
  // is skipped when popped.
  std::vector<std::string> sym;
  for (unsigned char b : word) {
    std::string s;
    append_utf8(s, byte_encoder()[b]);
    sym.push_back(std::move(s));
  }
  sym.back() += "</w>";
  const int n = static_cast<int>(sym.size());
  std::vector<int> next(static_cast<size_t>(n)), prev(static_cast<size_t>(n));
  std::vector<bool> alive(static_cast<size_t>(n), true);
  for (int i = 0; i < n; ++i) {
    next[static_cast<size_t>(i)] = i + 1 < n ? i + 1 : -1;
    prev[static_cast<size_t>(i)] = i - 1;
  }
  using Entry = std::pair<int, int>;  // (rank, left symbol's position)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  auto rank_of = [&](int left) {
    const int right = next[static_cast<size_t>(left)];
    if (right < 0) return INT_MAX;
    auto it = merge_rank_.find(sym[static_cast<size_t>(left)] + " " + sym[static_cast<size_t>(right)]);
    return it == merge_rank_.end() ? INT_MAX : it->second;
  };
  auto push = [&](int left) {
    if (left < 0) return;
    const int r = rank_of(left);
    if (r != INT_MAX) heap.push({r, left});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const auto [rank, left] = heap.top();
    heap.pop();
    if (!alive[static_cast<size_t>(left)] || rank_of(left) != rank) continue;  // stale
    const int right = next[static_cast<size_t>(left)];
    sym[static_cast<size_t>(left)] += sym[static_cast<size_t>(right)];
    alive[static_cast<size_t>(right)] = false;
    next[static_cast<size_t>(left)] = next[static_cast<size_t>(right)];
    if (next[static_cast<size_t>(left)] >= 0) prev[static_cast<size_t>(next[static_cast<size_t>(left)])] = left;
    push(prev[static_cast<size_t>(left)]);
    push(left);
  }
  std::vector<std::string> symbols;
  for (int i = 0; i >= 0 && i < n; i = next[static_cast<size_t>(i)]) symbols.push_back(std::move(sym[static_cast<size_t>(i)]));
  std::vector<int32_t> ids;
  for (const auto& s : symbols) {
    auto it = vocab_.find(s);
    ids.push_back(it == vocab_.end() ? eos_ : it->second);  // unk_token is <|endoftext|>
  }
  out.insert(out.end(), ids.begin(), ids.end());
  if (word.size() > kMaxCachedWordBytes) return;
  std::lock_guard<std::mutex> lock(cache_->mutex);
  if (cache_->words.size() >= kMaxCachedWords) cache_->words.clear();
  cache_->words.emplace(word, std::move(ids));
}

size_t ClipTokenizer::cached_words() const {
  std::lock_guard<std::mutex> lock(cache_->mutex);
  return cache_->words.size();
}

std::vector<int32_t> ClipTokenizer::tokenize(const std::string& text, size_t limit) const {
  std::vector<int32_t> ids;
  for (const Segment& seg : specials_.split(text)) {
    if (ids.size() >= limit) break;
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    const std::u32string normalized = utf8_to_u32(lowercase(u32_to_utf8(collapse_whitespace(utf8_to_u32(nfc(seg.text))))));
    for (const auto& word : pre_tokenize(normalized)) {
      if (ids.size() >= limit) break;
      bpe_word(u32_to_utf8(word), ids);
    }
  }
  if (ids.size() > limit) ids.resize(limit);
  return ids;
}

std::vector<int32_t> ClipTokenizer::encode(const std::string& text, int max_length) const {
  PD_CHECK(max_length >= 2, "CLIP tokenizer: max_length must be at least 2");
  std::vector<int32_t> body = tokenize(text, static_cast<size_t>(max_length - 2));
  if (body.size() > static_cast<size_t>(max_length - 2)) body.resize(static_cast<size_t>(max_length - 2));
  std::vector<int32_t> ids;
  ids.reserve(static_cast<size_t>(max_length));
  ids.push_back(bos_);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(eos_);
  ids.resize(static_cast<size_t>(max_length), pad_);
  return ids;
}

}  // namespace paradit::text
