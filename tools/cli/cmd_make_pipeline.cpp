// `paradit bench make-pipeline`: writes a diffusers StableDiffusion3Pipeline or FluxPipeline
// folder with real-shaped random weights in the released files' layout and dtypes (transformer
// bf16 in shards, CLIP-L/G and T5-XXL f16, VAE f32), for measuring whole images (time, peak
// memory) without downloading the real weights. Which tensors to write comes from paradit's own
// loaders run dry (LoadContext::record), so the files hold exactly what a load reads.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "models/clip/clip_text_model.h"
#include "models/flux/flux.h"
#include "models/mmdit/mmdit.h"
#include "pipelines/flux/pipeline.h"
#include "models/t5/t5_encoder.h"
#include "models/vae/autoencoder_kl.h"

namespace paradit::cli {
namespace {

namespace fs = std::filesystem;
using Recorded = std::vector<std::pair<std::string, Shape>>;

// The released SD3.5 configs, as their config.json files spell them.
const char* kClipL = R"({"architectures": ["CLIPTextModelWithProjection"], "hidden_act": "quick_gelu",
  "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12,
  "projection_dim": 768, "vocab_size": 49408, "max_position_embeddings": 77, "eos_token_id": 2,
  "layer_norm_eps": 1e-05, "torch_dtype": "float16"})";
const char* kClipG = R"({"architectures": ["CLIPTextModelWithProjection"], "hidden_act": "gelu",
  "hidden_size": 1280, "intermediate_size": 5120, "num_attention_heads": 20, "num_hidden_layers": 32,
  "projection_dim": 1280, "vocab_size": 49408, "max_position_embeddings": 77, "eos_token_id": 2,
  "layer_norm_eps": 1e-05, "torch_dtype": "float16"})";
const char* kT5 = R"({"architectures": ["T5EncoderModel"], "d_ff": 10240, "d_kv": 64, "d_model": 4096,
  "feed_forward_proj": "gated-gelu", "layer_norm_epsilon": 1e-06, "num_heads": 64, "num_layers": 24,
  "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32, "vocab_size": 32128,
  "torch_dtype": "float16"})";
const char* kVae = R"({"_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3, "latent_channels": 16,
  "block_out_channels": [128, 256, 512, 512], "layers_per_block": 2, "norm_num_groups": 32, "sample_size": 1024,
  "scaling_factor": 1.5305, "shift_factor": 0.0609, "use_quant_conv": false, "use_post_quant_conv": false,
  "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
  "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]})";

// FLUX.1's VAE: SD3's shapes with its own latent factors; its scheduler configs.
std::string flux_vae_json() {
  nlohmann::json j = nlohmann::json::parse(kVae);
  j["scaling_factor"] = 0.3611;
  j["shift_factor"] = 0.1159;
  return j.dump(2);
}
std::string flux_scheduler_json(bool dev) {
  const nlohmann::json j = {{"_class_name", "FlowMatchEulerDiscreteScheduler"}, {"num_train_timesteps", 1000},
                            {"shift", dev ? 3.0 : 1.0}, {"use_dynamic_shifting", dev}, {"base_shift", 0.5},
                            {"max_shift", 1.15}, {"base_image_seq_len", 256}, {"max_image_seq_len", 4096}};
  return j.dump(2);
}

std::string flux_json(const FluxConfig& c) {
  const nlohmann::json j = {{"_class_name", "FluxTransformer2DModel"},
                            {"attention_head_dim", c.attention_head_dim},
                            {"axes_dims_rope", c.axes_dims_rope},
                            {"guidance_embeds", c.guidance_embeds},
                            {"in_channels", c.in_channels},
                            {"joint_attention_dim", c.joint_attention_dim},
                            {"num_attention_heads", c.num_attention_heads},
                            {"num_layers", c.num_layers},
                            {"num_single_layers", c.num_single_layers},
                            {"out_channels", c.out_channels},
                            {"patch_size", c.patch_size},
                            {"pooled_projection_dim", c.pooled_projection_dim}};
  return j.dump(2);
}

std::string mmdit_json(const MMDiTConfig& c) {
  nlohmann::json j = {{"_class_name", "SD3Transformer2DModel"},
                      {"attention_head_dim", c.attention_head_dim},
                      {"caption_projection_dim", c.inner_dim()},
                      {"dual_attention_layers", c.dual_attention_layers},
                      {"in_channels", c.in_channels},
                      {"joint_attention_dim", c.joint_attention_dim},
                      {"num_attention_heads", c.num_attention_heads},
                      {"num_layers", c.num_layers},
                      {"out_channels", c.out_channels},
                      {"patch_size", c.patch_size},
                      {"pooled_projection_dim", c.pooled_projection_dim},
                      {"pos_embed_max_size", c.pos_embed_max_size},
                      {"qk_norm", c.qk_norm.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.qk_norm)},
                      {"sample_size", 128}};
  return j.dump(2);
}

// Writes the recorded tensors with random values in `dtype`, in shards of at most `shard_bytes`
// (diffusers' file names and index), each file written whole and renamed into place.
void write_weights(const fs::path& dir, const std::string& stem, const Recorded& tensors, DType dtype, uint64_t seed,
                   double shard_bytes) {
  std::vector<std::vector<size_t>> shards(1);
  double size = 0, total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const double bytes = static_cast<double>(shape_numel(tensors[i].second) * static_cast<int64_t>(dtype_size(dtype)));
    if (size > 0 && size + bytes > shard_bytes) {
      shards.emplace_back();
      size = 0;
    }
    shards.back().push_back(i);
    size += bytes;
    total += bytes;
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t s = 0; s < shards.size(); ++s) {
    char name[96];
    if (shards.size() == 1)
      std::snprintf(name, sizeof name, "%s.safetensors", stem.c_str());
    else
      std::snprintf(name, sizeof name, "%s-%05zu-of-%05zu.safetensors", stem.c_str(), s + 1, shards.size());
    NamedTensors part;
    for (size_t i : shards[s]) {
      part.emplace_back(tensors[i].first, random_tensor(seed, tensors[i].first, tensors[i].second, dtype));
      weight_map[tensors[i].first] = name;
    }
    save_safetensors((dir / name).string(), part, {{"format", "pt"}, {"producer", "paradit bench make-pipeline"}});
    std::fprintf(stderr, "  %s (%zu tensors)\n", (dir / name).c_str(), part.size());
  }
  if (shards.size() > 1) {
    const nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    write_file_atomic((dir / (stem + ".safetensors.index.json")).string(), index.dump(2));
  }
}

// Each loader, run dry, lists the tensors it reads; then they are written.
template <typename Load>
Recorded record(Load load) {
  Recorded r;
  LoadContext ctx;
  ctx.compute = DType::BF16;  // half the (untouched) address space
  ctx.record = &r;
  load(ctx);
  return r;
}

void write_config(const fs::path& dir, const std::string& json) {
  fs::create_directories(dir);
  write_file_atomic((dir / "config.json").string(), json);
}

// The components both pipelines share, each from the config.json already in its folder.
void write_clip(const fs::path& dir, uint64_t seed, double shard_bytes) {
  write_weights(dir, "model", record([&](const LoadContext& c) {
                  ClipTextModel::load(c, ClipTextConfig::from_json_file((dir / "config.json").string()));
                }),
                DType::F16, seed, shard_bytes);
}
void write_t5(const fs::path& dir, uint64_t seed, double shard_bytes) {
  write_weights(dir, "model", record([&](const LoadContext& c) {
                  T5Encoder::load(c, T5Config::from_json_file((dir / "config.json").string()));
                }),
                DType::F16, seed, shard_bytes);
}
void write_vae(const fs::path& dir, uint64_t seed, double shard_bytes) {
  write_weights(dir, "diffusion_pytorch_model", record([&](const LoadContext& c) {
                  AutoencoderKL::load(c, VaeConfig::from_json_file((dir / "config.json").string()), true);
                }),
                DType::F32, seed, shard_bytes);
}
// --like: the components' config.json files of another pipeline folder.
void copy_configs(const fs::path& like, const fs::path& out, const std::vector<const char*>& parts) {
  for (const char* part : parts) {
    PD_CHECK(fs::is_regular_file(like / part / "config.json"), (like / part).string(), " has no config.json");
    fs::create_directories(out / part);
    fs::copy_file(like / part / "config.json", out / part / "config.json", fs::copy_options::overwrite_existing);
  }
}

// The FLUX.1 form: transformer, CLIP-L (text_encoder), T5-XXL (text_encoder_2), VAE, scheduler.
int make_flux_pipeline(const fs::path& out, const fs::path& like, const std::string& preset, const fs::path& tokenizers,
                       double shard_bytes, uint64_t seed) {
  for (const char* t : {"tokenizer", "tokenizer_2"})
    PD_CHECK(fs::is_directory(tokenizers / t), tokenizers.string(), " has no ", t,
             "/ (pass --tokenizers FLUX_PIPELINE_DIR: the tokenizers are copied, not generated)");
  if (like.empty()) {
    const FluxConfig config = FluxConfig::preset(preset);
    write_config(out / "transformer", flux_json(config));
    write_config(out / "text_encoder", kClipL);
    write_config(out / "text_encoder_2", kT5);
    write_config(out / "vae", flux_vae_json());
    fs::create_directories(out / "scheduler");
    write_file_atomic((out / "scheduler/scheduler_config.json").string(), flux_scheduler_json(config.guidance_embeds));
  } else {
    copy_configs(like, out, {"transformer", "text_encoder", "text_encoder_2", "vae"});
    fs::create_directories(out / "scheduler");
    fs::copy_file(like / "scheduler/scheduler_config.json", out / "scheduler/scheduler_config.json",
                  fs::copy_options::overwrite_existing);
  }
  const FluxConfig flux = FluxConfig::from_json_file((out / "transformer/config.json").string());
  for (const char* t : {"tokenizer", "tokenizer_2"})
    fs::copy(tokenizers / t, out / t, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  write_file_atomic((out / "model_index.json").string(),
                    R"({"_class_name": "FluxPipeline", "_note": "random weights, paradit bench make-pipeline"})");
  std::fprintf(stderr, "writing %s (%s, random weights)\n", out.c_str(), preset.c_str());
  write_weights(out / "transformer", "diffusion_pytorch_model",
                record([&](const LoadContext& c) { FluxTransformer::load(c, flux); }), DType::BF16, seed, shard_bytes);
  write_clip(out / "text_encoder", seed + 1, shard_bytes);
  write_t5(out / "text_encoder_2", seed + 3, shard_bytes);
  write_vae(out / "vae", seed + 4, shard_bytes);
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return 0;
}

}  // namespace

int run_make_pipeline(const Args& args) {
  args.allow_only({"config", "like", "out", "tokenizers", "shard-gb", "seed"});
  const fs::path out = args.require("out");
  // --like DIR: the shapes (config.json files) and tokenizers of another pipeline folder.
  const fs::path like = args.get("like");
  const std::string preset = like.empty() ? args.get("config", "sd3.5-large") : "like " + like.string();
  const fs::path tokenizers =
      args.get("tokenizers", like.empty() ? std::string(PARADIT_SOURCE_DIR) + "/tests/fixtures/tiny-sd35" : like.string());
  const double shard_bytes = std::stod(args.get("shard-gb", "2")) * 1e9;
  const uint64_t seed = static_cast<uint64_t>(args.get_int("seed", 1234));
  PD_CHECK(shard_bytes >= 1e5, "--shard-gb must be at least 0.0001");
  const bool flux = like.empty() ? preset.rfind("flux", 0) == 0 : is_flux_pipeline(like.string());
  if (flux)
    return make_flux_pipeline(out, like, preset,
                              args.get("tokenizers", like.empty() ? std::string(PARADIT_SOURCE_DIR) +
                                                                        "/tests/fixtures/tiny-flux"
                                                                  : like.string()),
                              shard_bytes, seed);
  for (const char* t : {"tokenizer", "tokenizer_2", "tokenizer_3"})
    PD_CHECK(fs::is_directory(tokenizers / t), tokenizers.string(), " has no ", t,
             "/ (pass --tokenizers PIPELINE_DIR: the tokenizers are copied, not generated)");

  if (like.empty()) {
    write_config(out / "transformer", mmdit_json(MMDiTConfig::preset(preset)));
    write_config(out / "text_encoder", kClipL);
    write_config(out / "text_encoder_2", kClipG);
    write_config(out / "text_encoder_3", kT5);
    write_config(out / "vae", kVae);
  } else {
    copy_configs(like, out, {"transformer", "text_encoder", "text_encoder_2", "text_encoder_3", "vae"});
  }
  const MMDiTConfig mmdit = MMDiTConfig::from_json_file((out / "transformer/config.json").string());
  for (const char* t : {"tokenizer", "tokenizer_2", "tokenizer_3"})
    fs::copy(tokenizers / t, out / t, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  write_file_atomic((out / "model_index.json").string(),
                    R"({"_class_name": "StableDiffusion3Pipeline", "_note": "random weights, paradit bench make-pipeline"})");

  std::fprintf(stderr, "writing %s (%s, random weights)\n", out.c_str(), preset.c_str());
  write_weights(out / "transformer", "diffusion_pytorch_model",
                record([&](const LoadContext& c) { MMDiT::load(c, mmdit); }), DType::BF16, seed, shard_bytes);
  write_clip(out / "text_encoder", seed + 1, shard_bytes);
  write_clip(out / "text_encoder_2", seed + 2, shard_bytes);
  write_t5(out / "text_encoder_3", seed + 3, shard_bytes);
  write_vae(out / "vae", seed + 4, shard_bytes);
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return 0;
}

}  // namespace paradit::cli
