#include "text/sentencepiece_model.h"

#include <cstring>

#include "core/error.h"

namespace paradit::text {
namespace {

class Reader {
 public:
  Reader(const char* p, size_t n, const std::string& label) : p_(p), end_(p + n), label_(label) {}
  bool done() const { return p_ >= end_; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      PD_CHECK(p_ < end_, label_, ": truncated protobuf varint");
      const auto b = static_cast<unsigned char>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail(label_, ": malformed protobuf varint");
  }
  std::string bytes() {
    const uint64_t n = varint();
    PD_CHECK(n <= static_cast<uint64_t>(end_ - p_), label_, ": protobuf field runs past the end");
    std::string s(p_, static_cast<size_t>(n));
    p_ += n;
    return s;
  }
  float fixed32_float() {
    PD_CHECK(end_ - p_ >= 4, label_, ": truncated protobuf fixed32");
    float f;
    std::memcpy(&f, p_, 4);
    p_ += 4;
    return f;
  }
  void skip(uint32_t wire) {
    switch (wire) {
      case 0: varint(); return;
      case 1: PD_CHECK(end_ - p_ >= 8, label_, ": truncated protobuf"); p_ += 8; return;
      case 2: bytes(); return;
      case 5: PD_CHECK(end_ - p_ >= 4, label_, ": truncated protobuf"); p_ += 4; return;
      default: fail(label_, ": unsupported protobuf wire type ", wire);
    }
  }

 private:
  const char* p_;
  const char* end_;
  const std::string& label_;
};

SentencePieceModel::Piece parse_piece(const std::string& msg, const std::string& label) {
  SentencePieceModel::Piece piece;
  Reader r(msg.data(), msg.size(), label);
  while (!r.done()) {
    const uint64_t key = r.varint();
    const auto field = key >> 3;
    const auto wire = static_cast<uint32_t>(key & 7);
    if (field == 1 && wire == 2) piece.piece = r.bytes();
    else if (field == 2 && wire == 5) piece.score = r.fixed32_float();
    else if (field == 3 && wire == 0) piece.type = static_cast<int>(r.varint());
    else r.skip(wire);
  }
  return piece;
}

}  // namespace

SentencePieceModel parse_sentencepiece_model(const std::string& bytes, const std::string& label) {
  SentencePieceModel m;
  Reader r(bytes.data(), bytes.size(), label);
  while (!r.done()) {
    const uint64_t key = r.varint();
    const auto field = key >> 3;
    const auto wire = static_cast<uint32_t>(key & 7);
    if (field == 1 && wire == 2) {
      m.pieces.push_back(parse_piece(r.bytes(), label));
    } else if (field == 2 && wire == 2) {  // TrainerSpec: unk_id is field 40
      const std::string spec = r.bytes();
      Reader t(spec.data(), spec.size(), label);
      while (!t.done()) {
        const uint64_t k = t.varint();
        if ((k >> 3) == 40 && (k & 7) == 0) m.unk_id = static_cast<int32_t>(t.varint());
        else t.skip(static_cast<uint32_t>(k & 7));
      }
    } else if (field == 3 && wire == 2) {  // NormalizerSpec: precompiled_charsmap is field 2
      const std::string spec = r.bytes();
      Reader n(spec.data(), spec.size(), label);
      while (!n.done()) {
        const uint64_t k = n.varint();
        if ((k >> 3) == 2 && (k & 7) == 2) m.precompiled_charsmap = n.bytes();
        else n.skip(static_cast<uint32_t>(k & 7));
      }
    } else {
      r.skip(wire);
    }
  }
  PD_CHECK(!m.pieces.empty(), label, ": no pieces; not a sentencepiece model");
  return m;
}

}  // namespace paradit::text
