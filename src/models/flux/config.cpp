#include "models/flux/config.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "io/json_file.h"
#include "io/shape_inference.h"

namespace paradit {

void FluxConfig::validate() const {
  PD_CHECK(patch_size == 1, "FLUX config: patch_size ", patch_size, " is not supported (FLUX.1 packs 2x2 itself: 1)");
  PD_CHECK(in_channels > 0 && out_channels > 0 && in_channels <= 4096 && out_channels <= 4096,
           "FLUX config: bad in/out channels");
  PD_CHECK(num_layers >= 0 && num_single_layers >= 0 && num_layers + num_single_layers > 0 && num_layers <= 1000 &&
               num_single_layers <= 1000,
           "FLUX config: bad depth");
  PD_CHECK(num_attention_heads > 0 && num_attention_heads <= 1024 && attention_head_dim > 0 &&
               attention_head_dim <= 512 && attention_head_dim % 2 == 0,
           "FLUX config: bad heads (head size must be even, at most 512)");
  PD_CHECK(joint_attention_dim > 0 && joint_attention_dim <= 65536 && pooled_projection_dim > 0 &&
               pooled_projection_dim <= 65536,
           "FLUX config: bad joint_attention_dim or pooled_projection_dim");
  int64_t rope = 0;
  for (int64_t a : axes_dims_rope) {
    PD_CHECK(a > 0 && a % 2 == 0, "FLUX config: axes_dims_rope must hold three positive even sizes");
    rope += a;
  }
  PD_CHECK(rope == attention_head_dim, "FLUX config: axes_dims_rope adds up to ", rope, ", not the head size ",
           attention_head_dim);
}

std::string FluxConfig::describe() const {
  std::ostringstream out;
  out << "  FLUX.1 " << (guidance_embeds ? "[dev]-like (guidance embedding)" : "[schnell]-like (no guidance embedding)")
      << "\n  " << num_layers << " double-stream + " << num_single_layers << " single-stream blocks, heads "
      << num_attention_heads << " x " << attention_head_dim << " (inner dim " << inner_dim() << ")\n"
      << "  in/out channels " << in_channels << "/" << out_channels << ", joint_attention_dim " << joint_attention_dim
      << ", pooled_projection_dim " << pooled_projection_dim << "\n"
      << "  axes_dims_rope (" << axes_dims_rope[0] << ", " << axes_dims_rope[1] << ", " << axes_dims_rope[2] << ")";
  return out.str();
}

FluxConfig FluxConfig::from_json_file(const std::string& path) try {
  const auto j = read_json_file(path);
  FluxConfig c;
  auto get_int = [&](const char* key, int64_t& field) {
    if (!j.contains(key) || j[key].is_null()) return;
    PD_CHECK(j[key].is_number_integer(), path, ": '", key, "' must be an integer");
    field = j[key].get<int64_t>();
  };
  get_int("patch_size", c.patch_size);
  get_int("in_channels", c.in_channels);
  c.out_channels = c.in_channels;
  get_int("out_channels", c.out_channels);
  get_int("num_layers", c.num_layers);
  get_int("num_single_layers", c.num_single_layers);
  get_int("attention_head_dim", c.attention_head_dim);
  get_int("num_attention_heads", c.num_attention_heads);
  get_int("joint_attention_dim", c.joint_attention_dim);
  get_int("pooled_projection_dim", c.pooled_projection_dim);
  if (j.contains("guidance_embeds")) {
    PD_CHECK(j["guidance_embeds"].is_boolean(), path, ": 'guidance_embeds' must be true or false");
    c.guidance_embeds = j["guidance_embeds"].get<bool>();
  }
  if (j.contains("axes_dims_rope")) {
    const auto& a = j["axes_dims_rope"];
    PD_CHECK(a.is_array() && a.size() == 3, path, ": 'axes_dims_rope' must list three sizes");
    for (size_t i = 0; i < 3; ++i) {
      PD_CHECK(a[i].is_number_integer(), path, ": 'axes_dims_rope' must hold integers");
      c.axes_dims_rope[i] = a[i].get<int64_t>();
    }
  }
  c.validate();
  return c;
} catch (const nlohmann::json::exception& e) {
  json_type_error(path, e);
}

FluxConfig FluxConfig::infer(const WeightSource& w) {
  auto dim = [&](const std::string& name, int64_t d) { return inferred_dim(w, name, d, "FLUX"); };
  auto count = [&](const std::string& prefix, const std::string& suffix) {
    int64_t n = 0;
    while (n < 1000 && w.has(prefix + std::to_string(n) + suffix)) ++n;
    return n;
  };
  FluxConfig c;
  c.in_channels = dim("x_embedder.weight", 1);
  const int64_t inner = dim("x_embedder.weight", 0);
  c.num_layers = count("transformer_blocks.", ".attn.to_q.weight");
  c.num_single_layers = count("single_transformer_blocks.", ".proj_mlp.weight");
  c.attention_head_dim = c.num_layers ? dim("transformer_blocks.0.attn.norm_q.weight", 0)
                                      : dim("single_transformer_blocks.0.attn.norm_q.weight", 0);
  PD_CHECK(inner % c.attention_head_dim == 0, "FLUX: inner dim ", inner, " is not a multiple of the head size ",
           c.attention_head_dim);
  c.num_attention_heads = inner / c.attention_head_dim;
  c.joint_attention_dim = dim("context_embedder.weight", 1);
  c.pooled_projection_dim = dim("time_text_embed.text_embedder.linear_1.weight", 1);
  c.guidance_embeds = w.has("time_text_embed.guidance_embedder.linear_1.weight");
  c.out_channels = dim("proj_out.weight", 0);
  PD_CHECK(c.attention_head_dim == 128, "FLUX: cannot infer axes_dims_rope for head size ", c.attention_head_dim,
           " (FLUX.1's are (16, 56, 56) for 128): give the model's transformer/config.json");
  c.validate();
  return c;
}

FluxConfig FluxConfig::preset(const std::string& name) {
  FluxConfig c;  // the defaults are FLUX.1's shapes
  if (name == "flux.1-dev") c.guidance_embeds = true;
  else PD_CHECK(name == "flux.1-schnell", "unknown FLUX preset '", name, "' (flux.1-dev, flux.1-schnell)");
  return c;
}

double flux_flops(const FluxConfig& c, int64_t image_tokens, int64_t text_tokens, int64_t batch) {
  const double D = static_cast<double>(c.inner_dim()), F = static_cast<double>(c.mlp_hidden_dim());
  const double N = static_cast<double>(image_tokens), T = static_cast<double>(text_tokens), S = N + T;
  const double attention = 2.0 * 2.0 * S * S * D;  // QK^T and PV over all heads
  // Double blocks: per stream q, k, v, out (4 D^2) and the MLP (2 D F), per token.
  const double dbl = 2.0 * S * (4.0 * D * D + 2.0 * D * F) + attention;
  // Single blocks: q, k, v (3 D^2), the MLP input (D F) and proj_out ((D + F) D), per token.
  const double single = 2.0 * S * (3.0 * D * D + D * F + (D + F) * D) + attention;
  const double embed = 2.0 * (N * static_cast<double>(c.in_channels) * D + T * static_cast<double>(c.joint_attention_dim) * D +
                              N * D * static_cast<double>(c.out_channels));
  return static_cast<double>(batch) *
         (static_cast<double>(c.num_layers) * dbl + static_cast<double>(c.num_single_layers) * single + embed);
}

StepShape flux_step_shape(const FluxConfig& c, int64_t latent_h, int64_t latent_w, int64_t text_tokens,
                          int64_t batch) {
  StepShape s;
  s.layers = c.num_layers + c.num_single_layers;
  s.dim = c.inner_dim();
  s.heads = c.num_attention_heads;
  s.head_dim = c.attention_head_dim;
  s.image_tokens = (latent_h / 2) * (latent_w / 2);
  s.prompt_tokens = text_tokens;
  s.batch = batch;
  s.weight_params = 36.0 * static_cast<double>(s.dim * s.dim * s.layers) * 1.01;
  s.bytes_per_weight = 2;
  s.bytes_per_activation = 4;
  s.out_per_token = c.out_channels;
  return s;
}

}  // namespace paradit
