#include "pipelines/flux/prompt_encoder.h"

#include <filesystem>

#include "core/error.h"
#include "models/clip/load.h"
#include "models/t5/load.h"

namespace paradit {
namespace fs = std::filesystem;

FluxTextFiles FluxTextFiles::from_pipeline(const std::string& dir) {
  auto sub = [&](const char* name) {
    const fs::path p = fs::path(dir) / name;
    std::error_code ec;
    return fs::is_directory(p, ec) ? p.string() : std::string();
  };
  FluxTextFiles f;
  f.clip_l = sub("text_encoder");
  f.tokenizer_l = sub("tokenizer");
  f.t5 = sub("text_encoder_2");
  f.tokenizer_t5 = sub("tokenizer_2");
  return f;
}

FluxPromptEncoder FluxPromptEncoder::load(const FluxTextFiles& files, DType compute, int64_t joint_dim,
                                          int64_t pooled_dim, Device device) {
  PD_CHECK(!files.clip_l.empty() && !files.t5.empty(),
           "FLUX needs CLIP-L and T5-XXL: a FluxPipeline folder (text_encoder/, text_encoder_2/), or --clip-l and "
           "--t5xxl files");
  PD_CHECK(!files.tokenizer_t5.empty(), "FLUX's T5 needs its tokenizer (tokenizer_2/ of the pipeline folder)");
  FluxPromptEncoder e;
  e.tok_l_ = files.tokenizer_l.empty() ? text::ClipTokenizer::bundled("<|endoftext|>")
                                       : text::ClipTokenizer::from_folder(files.tokenizer_l);
  e.tok_t5_ = text::T5Tokenizer::from_folder(files.tokenizer_t5);
  e.clip_l_ = std::make_shared<ClipTextModel>(load_clip_text_model(files.clip_l, compute, device).model);
  e.t5_ = std::make_shared<T5Encoder>(load_t5_encoder(files.t5, compute, nullptr, device).model);
  PD_CHECK(e.t5_->config().d_model == joint_dim, "T5 d_model ", e.t5_->config().d_model,
           " does not match the FLUX transformer's joint_attention_dim ", joint_dim);
  PD_CHECK(e.clip_l_->config().hidden_size == pooled_dim, "CLIP-L hidden size ", e.clip_l_->config().hidden_size,
           " does not match the FLUX transformer's pooled_projection_dim ", pooled_dim);
  return e;
}

FluxPromptEmbeds FluxPromptEncoder::encode(const std::vector<std::string>& prompt,
                                           const std::vector<std::string>& prompt_2, int max_sequence_length,
                                           Timings* timings) const {
  PD_CHECK(!prompt.empty(), "encode_prompt: no prompt");
  const auto& p2 = prompt_2.empty() ? prompt : prompt_2;
  PD_CHECK(p2.size() == prompt.size(), "encode_prompt: prompt and prompt_2 differ in batch size");
  PD_CHECK(max_sequence_length >= 1 && max_sequence_length <= 512, "max_sequence_length must be in 1..512, got ",
           max_sequence_length);
  FluxPromptEmbeds out;
  {
    Timings::Scope t(timings, "clip_encoding");
    std::vector<std::vector<int32_t>> ids;
    for (const auto& p : prompt) ids.push_back(tok_l_.encode(p, 77));
    out.pooled = clip_l_->forward(ids).pooled;
  }
  {
    Timings::Scope t(timings, "t5_encoding");
    std::vector<std::vector<int32_t>> ids;
    for (const auto& p : p2) ids.push_back(tok_t5_->encode(p, max_sequence_length));
    out.prompt_embeds = t5_->forward(ids);
  }
  return out;
}

}  // namespace paradit
