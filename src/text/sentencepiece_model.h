// A minimal reader of sentencepiece's ModelProto (spiece.model): the pieces with their scores
// and types, the special ids, and the normaliser's precompiled charsmap. Protocol-buffer wire
// format parsed by hand; unknown fields are skipped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace paradit::text {

struct SentencePieceModel {
  struct Piece {
    enum Type { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };
    std::string piece;
    float score = 0;
    int type = Normal;
  };
  std::vector<Piece> pieces;
  int32_t unk_id = 0;
  std::string precompiled_charsmap;
};

SentencePieceModel parse_sentencepiece_model(const std::string& bytes, const std::string& label);

}  // namespace paradit::text
