#include "pipelines/sd35/prompt_encoder.h"

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "models/clip/load.h"
#include "models/t5/load.h"
#include "ops/ops.h"

namespace paradit {
namespace fs = std::filesystem;

TextEncoderFiles TextEncoderFiles::from_pipeline(const std::string& dir, bool with_t5) {
  TextEncoderFiles f;
  auto sub = [&](const char* name) {
    const fs::path p = fs::path(dir) / name;
    std::error_code ec;
    return fs::is_directory(p, ec) ? p.string() : std::string();
  };
  f.clip_l = sub("text_encoder");
  f.clip_g = sub("text_encoder_2");
  f.tokenizer_l = sub("tokenizer");
  f.tokenizer_g = sub("tokenizer_2");
  PD_CHECK(!f.clip_l.empty() && !f.clip_g.empty(), dir,
           ": no text_encoder/ and text_encoder_2/ folders; give --clip-l and --clip-g");
  if (with_t5) {
    f.t5 = sub("text_encoder_3");
    f.tokenizer_t5 = sub("tokenizer_3");
  }
  return f;
}

Sd3PromptEncoder Sd3PromptEncoder::load(const TextEncoderFiles& files, DType compute, int64_t joint_dim,
                                        ParallelGroups* parallel, Device device) {
  Sd3PromptEncoder e;
  e.joint_dim_ = joint_dim;
  e.tok_l_ = files.tokenizer_l.empty() ? text::ClipTokenizer::bundled("<|endoftext|>")
                                       : text::ClipTokenizer::from_folder(files.tokenizer_l);
  e.tok_g_ = files.tokenizer_g.empty() ? text::ClipTokenizer::bundled("!")
                                       : text::ClipTokenizer::from_folder(files.tokenizer_g);
  e.clip_l_ = std::make_shared<ClipTextModel>(load_clip_text_model(files.clip_l, compute, device).model);
  e.clip_g_ = std::make_shared<ClipTextModel>(load_clip_text_model(files.clip_g, compute, device).model);
  if (!files.t5.empty()) {
    PD_CHECK(!files.tokenizer_t5.empty(), "T5 needs its tokenizer (tokenizer_3/ with tokenizer.json or spiece.model)");
    e.tok_t5_ = text::T5Tokenizer::from_folder(files.tokenizer_t5);
    e.t5_ = std::make_shared<T5Encoder>(load_t5_encoder(files.t5, compute, parallel, device).model);
    PD_CHECK(e.t5_->config().d_model == joint_dim, "T5 d_model ", e.t5_->config().d_model,
             " does not match the transformer's joint_attention_dim ", joint_dim);
  }
  return e;
}

Tensor Sd3PromptEncoder::clip_states(const ClipTextModel& model, const text::ClipTokenizer& tok,
                                     const std::vector<std::string>& prompts, int clip_skip, Tensor* pooled) const {
  std::vector<std::vector<int32_t>> ids;
  for (const auto& p : prompts) ids.push_back(tok.encode(p, 77));
  auto out = model.forward(ids);
  PD_CHECK(out.text_embeds.has_value(), "CLIP text encoder has no text_projection; SD3 needs pooled embeddings");
  *pooled = *out.text_embeds;
  const int64_t index = static_cast<int64_t>(out.hidden_states.size()) - 2 - clip_skip;
  PD_CHECK(clip_skip >= 0 && index >= 0, "clip_skip ", clip_skip, " is larger than the encoder's depth");
  return out.hidden_states[static_cast<size_t>(index)];
}

PromptEmbeds Sd3PromptEncoder::encode(const PromptRequest& r, Timings* timings) const {
  PD_CHECK(!r.prompt.empty(), "encode_prompt: no prompt");
  const size_t B = r.prompt.size();
  const auto& p2 = r.prompt_2.empty() ? r.prompt : r.prompt_2;
  const auto& p3 = r.prompt_3.empty() ? r.prompt : r.prompt_3;
  PD_CHECK(p2.size() == B && p3.size() == B, "encode_prompt: prompt, prompt_2 and prompt_3 differ in batch size");
  PD_CHECK(r.max_sequence_length >= 1 && r.max_sequence_length <= 512, "max_sequence_length must be in 1..512, got ",
           r.max_sequence_length);
  Tensor pooled_l, pooled_g, clip;
  {
    Timings::Scope t(timings, "clip_encoding");
    const Tensor l = clip_states(*clip_l_, tok_l_, r.prompt, r.clip_skip, &pooled_l);
    const Tensor g = clip_states(*clip_g_, tok_g_, p2, r.clip_skip, &pooled_g);
    clip = ops::concat({l, g}, 2);  // [B, 77, dl + dg]
  }
  const int64_t clip_width = clip.size(2), T = r.max_sequence_length;
  PD_CHECK(clip_width <= joint_dim_, "CLIP width ", clip_width, " exceeds the joint dimension ", joint_dim_);
  Tensor t5_states;
  if (t5_) {
    Timings::Scope t(timings, "t5_encoding");
    std::vector<std::vector<int32_t>> ids;
    for (const auto& p : p3) ids.push_back(tok_t5_->encode(p, r.max_sequence_length));
    t5_states = t5_->forward(ids);
  } else {
    t5_states = Tensor::zeros({static_cast<int64_t>(B), T, joint_dim_}, DType::F32, clip.device());
  }
  const Tensor padded = ops::concat(
      {clip, Tensor::zeros({static_cast<int64_t>(B), 77, joint_dim_ - clip_width}, DType::F32, clip.device())}, 2);
  return {ops::concat({padded, t5_states}, 1), ops::concat({pooled_l, pooled_g}, 1)};
}

}  // namespace paradit
