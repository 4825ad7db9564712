// FLUX.1 prompt encoding, as diffusers' FluxPipeline.encode_prompt does it: CLIP-L's pooled
// output (the final-norm state at the end-of-text token, no projection) from the prompt padded
// to 77 tokens, and T5's last hidden states from prompt_2 (default: the prompt) padded to
// max_sequence_length tokens.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/timings.h"
#include "models/clip/clip_text_model.h"
#include "models/t5/t5_encoder.h"
#include "text/clip_tokenizer.h"
#include "text/t5_tokenizer.h"

namespace paradit {

struct FluxPromptEmbeds {
  Tensor prompt_embeds;  // [B, max_sequence_length, T5 d_model]
  Tensor pooled;         // [B, CLIP-L hidden size]
};

struct FluxTextFiles {
  std::string clip_l, t5;                  // weights: folders or single files
  std::string tokenizer_l, tokenizer_t5;   // folders; "" = the bundled CLIP vocabulary (CLIP only)
  // text_encoder/, tokenizer/, text_encoder_2/, tokenizer_2/ of a FluxPipeline folder.
  static FluxTextFiles from_pipeline(const std::string& dir);
};

class FluxPromptEncoder {
 public:
  // `device`: where the encoders' weights live and they run; the embeddings come out there.
  static FluxPromptEncoder load(const FluxTextFiles& files, DType compute, int64_t joint_dim, int64_t pooled_dim,
                                Device device = Device::CPU);
  // Records "clip_encoding" and "t5_encoding" sections when given timings.
  FluxPromptEmbeds encode(const std::vector<std::string>& prompt, const std::vector<std::string>& prompt_2,
                          int max_sequence_length, Timings* timings = nullptr) const;

 private:
  text::ClipTokenizer tok_l_;
  std::optional<text::T5Tokenizer> tok_t5_;
  std::shared_ptr<ClipTextModel> clip_l_;
  std::shared_ptr<T5Encoder> t5_;
};

}  // namespace paradit
