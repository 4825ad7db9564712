#include "text_options.h"

#include <filesystem>

#include "core/error.h"
#include "models/mmdit/weights.h"

namespace paradit::cli {
namespace fs = std::filesystem;

TextEncoderFiles text_encoder_files(const Args& args) {
  const bool with_t5 = !args.has("no-t5");
  TextEncoderFiles f;
  std::error_code ec;
  const std::string model = args.get("model");
  if (!model.empty() && fs::is_directory(fs::path(model) / "text_encoder", ec))
    f = TextEncoderFiles::from_pipeline(model, with_t5);
  if (args.has("clip-l")) f.clip_l = args.get("clip-l");
  if (args.has("clip-g")) f.clip_g = args.get("clip-g");
  if (args.has("t5xxl") && with_t5) f.t5 = args.get("t5xxl");
  PD_CHECK(!f.clip_l.empty() && !f.clip_g.empty(),
           "no text encoders: give a diffusers pipeline folder as --model, or --clip-l and --clip-g files");
  PD_CHECK(f.t5.empty() || !f.tokenizer_t5.empty(),
           "--t5xxl needs a T5 tokenizer: use a pipeline folder with tokenizer_3/ as --model, or --no-t5");
  return f;
}

int64_t joint_dim_for(const Args& args) {
  const std::string model = args.get("model");
  if (!model.empty()) {
    try {
      return open_mmdit_weights(model).config.joint_attention_dim;
    } catch (const Error&) {
      // no transformer there: fall through
    }
  }
  return 4096;
}

api::LoadOptions load_options(const Args& args) {
  api::LoadOptions load;
  load.model = args.require("model");
  load.transformer = args.get("transformer");
  load.clip_l = args.get("clip-l");
  load.clip_g = args.get("clip-g");
  load.t5xxl = args.get("t5xxl");
  load.vae = args.get("vae");
  load.no_t5 = args.has("no-t5");
  load.dtype = args.get("dtype", "auto");
  load.vae_tiling = args.has("vae-tiling");
  load.threads = args.get_int("threads", 0);
  return load;
}

}  // namespace paradit::cli
