// SD3 prompt encoding, as diffusers' StableDiffusion3Pipeline.encode_prompt does it:
//   CLIP-L(prompt) and CLIP-G(prompt_2) penultimate states, concatenated (768 + 1280) and
//   zero-padded to T5's width, then joined with T5(prompt_3) along tokens (77 + 256);
//   pooled = [CLIP-L text_embeds, CLIP-G text_embeds].
// Without T5 (the low-memory option) its part is zeros, as diffusers does.
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

struct PromptEmbeds {
  Tensor prompt_embeds;  // [B, 77 + max_sequence_length, joint_dim]
  Tensor pooled;         // [B, clip_l projection + clip_g projection]
};

struct PromptRequest {
  std::vector<std::string> prompt;
  std::vector<std::string> prompt_2;  // empty: same as prompt
  std::vector<std::string> prompt_3;  // empty: same as prompt
  int clip_skip = 0;                  // 0: hidden_states[-2]; n: hidden_states[-(n + 2)]
  int max_sequence_length = 256;
};

struct TextEncoderFiles {
  std::string clip_l, clip_g, t5;                    // weights: folders or single files; t5 "" = none
  std::string tokenizer_l, tokenizer_g, tokenizer_t5;  // folders; "" = the bundled CLIP vocab
  static TextEncoderFiles from_pipeline(const std::string& dir, bool with_t5);
};

class Sd3PromptEncoder {
 public:
  // joint_dim: the transformer's joint_attention_dim (the width of the zeros without T5).
  // `parallel`: T5 (the largest encoder) is split over the tp group; the CLIPs stay whole.
  // `device`: where the encoders' weights live and they run; the embeddings come out there.
  static Sd3PromptEncoder load(const TextEncoderFiles& files, DType compute, int64_t joint_dim,
                               ParallelGroups* parallel = nullptr, Device device = Device::CPU);
  // Records "clip_encoding" and "t5_encoding" sections when given timings.
  PromptEmbeds encode(const PromptRequest& request, Timings* timings = nullptr) const;
  bool has_t5() const { return t5_ != nullptr; }
  // Frees T5 (the largest encoder) once prompts are encoded.
  void release_t5() { t5_.reset(); }

  const text::ClipTokenizer& tokenizer_l() const { return tok_l_; }
  const text::ClipTokenizer& tokenizer_g() const { return tok_g_; }
  const text::T5Tokenizer* tokenizer_t5() const { return tok_t5_ ? &*tok_t5_ : nullptr; }

 private:
  Tensor clip_states(const ClipTextModel& model, const text::ClipTokenizer& tok, const std::vector<std::string>& p,
                     int clip_skip, Tensor* pooled) const;
  text::ClipTokenizer tok_l_, tok_g_;
  std::optional<text::T5Tokenizer> tok_t5_;
  std::shared_ptr<ClipTextModel> clip_l_, clip_g_;
  std::shared_ptr<T5Encoder> t5_;
  int64_t joint_dim_ = 4096;
};

}  // namespace paradit
