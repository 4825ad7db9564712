#include "models/vae/autoencoder_kl.h"

#include <tuple>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/layouts/vae_original.h"
#include "io/prefixed_weights.h"
#include "ops/ops.h"

namespace paradit {

VaeDecoder VaeDecoder::load(const LoadContext& ctx, const std::string& prefix, const VaeConfig& c) {
  VaeDecoder d;
  const auto& ch = c.block_out_channels;
  const int64_t g = c.norm_num_groups;
  d.conv_in_ = Conv2d::load(ctx, join(prefix, "conv_in"), c.latent_channels, ch.back(), 3, ops::Conv2dParams::same(1));
  d.mid_ = VaeMidBlock::load(ctx, join(prefix, "mid_block"), ch.back(), g, c.mid_block_add_attention);
  int64_t out = ch.back();
  for (size_t i = 0; i < ch.size(); ++i) {
    const int64_t in = out;
    out = ch[ch.size() - 1 - i];
    const std::string p = join(prefix, "up_blocks." + std::to_string(i));
    UpBlock b;
    for (int64_t j = 0; j <= c.layers_per_block; ++j)
      b.resnets.push_back(ResnetBlock2D::load(ctx, p + ".resnets." + std::to_string(j), j == 0 ? in : out, out, g));
    if (i + 1 < ch.size())
      b.upsample = Conv2d::load(ctx, p + ".upsamplers.0.conv", out, out, 3, ops::Conv2dParams::same(1));
    d.up_.push_back(std::move(b));
  }
  d.norm_out_ = GroupNorm::load(ctx, join(prefix, "conv_norm_out"), g, ch.front(), 1e-6f);
  d.conv_out_ = Conv2d::load(ctx, join(prefix, "conv_out"), ch.front(), c.out_channels, 3, ops::Conv2dParams::same(1));
  return d;
}

Tensor VaeDecoder::forward(const Tensor& z) const {
  Tensor h = mid_.forward(conv_in_.forward(z));
  for (const UpBlock& b : up_) {
    for (const auto& r : b.resnets) h = r.forward(h);
    if (b.upsample) h = b.upsample->forward(ops::upsample_nearest2x(h));
  }
  return conv_out_.forward(ops::silu(norm_out_.forward(h)));
}

VaeEncoder VaeEncoder::load(const LoadContext& ctx, const std::string& prefix, const VaeConfig& c) {
  VaeEncoder e;
  const auto& ch = c.block_out_channels;
  const int64_t g = c.norm_num_groups;
  e.conv_in_ = Conv2d::load(ctx, join(prefix, "conv_in"), c.in_channels, ch.front(), 3, ops::Conv2dParams::same(1));
  int64_t out = ch.front();
  for (size_t i = 0; i < ch.size(); ++i) {
    const int64_t in = out;
    out = ch[i];
    const std::string p = join(prefix, "down_blocks." + std::to_string(i));
    DownBlock b;
    for (int64_t j = 0; j < c.layers_per_block; ++j)
      b.resnets.push_back(ResnetBlock2D::load(ctx, p + ".resnets." + std::to_string(j), j == 0 ? in : out, out, g));
    if (i + 1 < ch.size())
      b.downsample = Conv2d::load(ctx, p + ".downsamplers.0.conv", out, out, 3, {2, 0, 0, 1, 1});
    e.down_.push_back(std::move(b));
  }
  e.mid_ = VaeMidBlock::load(ctx, join(prefix, "mid_block"), ch.back(), g, c.mid_block_add_attention);
  e.norm_out_ = GroupNorm::load(ctx, join(prefix, "conv_norm_out"), g, ch.back(), 1e-6f);
  e.conv_out_ = Conv2d::load(ctx, join(prefix, "conv_out"), ch.back(), 2 * c.latent_channels, 3,
                             ops::Conv2dParams::same(1));
  return e;
}

Tensor VaeEncoder::forward(const Tensor& image) const {
  Tensor h = conv_in_.forward(image);
  for (const DownBlock& b : down_) {
    for (const auto& r : b.resnets) h = r.forward(h);
    if (b.downsample) h = b.downsample->forward(h);
  }
  return conv_out_.forward(ops::silu(norm_out_.forward(mid_.forward(h))));
}

AutoencoderKL AutoencoderKL::load(const LoadContext& ctx, const VaeConfig& config, bool with_encoder) {
  config.validate();
  AutoencoderKL a;
  a.config_ = config;
  a.decoder_ = VaeDecoder::load(ctx, "decoder", config);
  if (with_encoder) a.encoder_ = VaeEncoder::load(ctx, "encoder", config);
  a.has_encoder_ = with_encoder;
  return a;
}

AutoencoderKL AutoencoderKL::load_folder(const std::string& dir, Device device) {
  const std::string json = config_json_in(dir);
  PD_CHECK(!json.empty(), dir, ": no config.json; not a diffusers VAE folder");
  const VaeConfig config = VaeConfig::from_json_file(json);
  const Checkpoint ck = Checkpoint::open(dir);
  LoadContext ctx{&ck, DType::F32, std::nullopt};
  ctx.device = device;
  return load(ctx, config, ck.has("encoder.conv_in.weight"));
}

std::optional<AutoencoderKL> AutoencoderKL::load_from_single_file(const std::string& path,
                                                                 std::optional<std::pair<float, float>> scale_shift,
                                                                 Device device) {
  auto ck = std::make_shared<Checkpoint>(Checkpoint::open(path));
  const auto prefix = VaeOriginalLayout::detect(*ck);
  if (!prefix) return std::nullopt;
  const VaeOriginalLayout weights(ck, *prefix);
  VaeConfig config = VaeConfig::infer(weights);
  if (scale_shift) std::tie(config.scaling_factor, config.shift_factor) = *scale_shift;
  LoadContext ctx{&weights, DType::F32, std::nullopt};
  ctx.device = device;
  return load(ctx, config, weights.has("encoder.conv_in.weight"));
}

Tensor AutoencoderKL::encode_mean(const Tensor& image) const {
  PD_CHECK(has_encoder_, "this VAE checkpoint has no encoder");
  PD_CHECK(image.dim() == 4 && image.size(1) == config_.in_channels && image.size(2) % config_.downscale() == 0 &&
               image.size(3) % config_.downscale() == 0,
           "VAE encode: image ", image.describe(), " must be [B, ", config_.in_channels, ", H, W] with H, W multiples of ",
           config_.downscale());
  return ops::split(encoder_.forward(image), {config_.latent_channels, config_.latent_channels}, 1)[0];
}

namespace {

// Rows [r0, r1) and columns [c0, c1) of a [B, C, H, W] tensor, as a new tensor.
Tensor crop(const Tensor& x, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  Tensor out = Tensor::empty({B, C, r1 - r0, c1 - c0});
  for (int64_t p = 0; p < B * C; ++p)
    for (int64_t r = r0; r < r1; ++r)
      std::memcpy(out.data<float>() + (p * (r1 - r0) + (r - r0)) * (c1 - c0), x.data<float>() + (p * H + r) * W + c0,
                  static_cast<size_t>(c1 - c0) * sizeof(float));
  return out;
}

// diffusers' blend_v / blend_h: b's first rows (columns) fade in over a's last ones, in place.
void blend(const Tensor& a, Tensor& b, int64_t extent, bool vertical) {
  const int64_t planes = b.size(0) * b.size(1);
  const int64_t ah = a.size(2), aw = a.size(3), bh = b.size(2), bw = b.size(3);
  extent = std::min({vertical ? ah : aw, vertical ? bh : bw, extent});
  for (int64_t k = 0; k < extent; ++k) {
    const float wa = static_cast<float>(1.0 - static_cast<double>(k) / static_cast<double>(extent));
    const float wb = static_cast<float>(static_cast<double>(k) / static_cast<double>(extent));
    for (int64_t p = 0; p < planes; ++p) {
      if (vertical) {
        const float* ra = a.data<float>() + (p * ah + (ah - extent + k)) * aw;
        float* rb = b.data<float>() + (p * bh + k) * bw;
        for (int64_t x = 0; x < bw; ++x) rb[x] = ra[x] * wa + rb[x] * wb;
      } else {
        for (int64_t y = 0; y < bh; ++y) {
          const float va = a.data<float>()[(p * ah + y) * aw + (aw - extent + k)];
          float& vb = b.data<float>()[(p * bh + y) * bw + k];
          vb = va * wa + vb * wb;
        }
      }
    }
  }
}

}  // namespace

Tensor AutoencoderKL::decode_tiled(const Tensor& z, Communicator* group) const {
  PD_CHECK(z.dim() == 4, "VAE decode: latents must be [B, C, h, w], got ", z.describe());
  const int64_t tile_sample = config_.sample_size;
  const int64_t tile_latent = tile_sample / config_.downscale();
  const int64_t overlap = static_cast<int64_t>(static_cast<double>(tile_latent) * (1 - 0.25));
  const int64_t blend_extent = static_cast<int64_t>(static_cast<double>(tile_sample) * 0.25);
  const int64_t row_limit = tile_sample - blend_extent;
  PD_CHECK(tile_latent > 0 && overlap > 0, "VAE: sample_size ", tile_sample, " is too small to tile");
  const int64_t h = z.size(2), w = z.size(3);
  const int64_t ranks = group ? group->size() : 1, me = group ? group->rank() : 0;
  const int64_t f = config_.downscale();
  std::vector<std::vector<Tensor>> rows;
  int64_t k = 0;
  for (int64_t i = 0; i < h; i += overlap) {
    std::vector<Tensor> row;
    for (int64_t j = 0; j < w; j += overlap, ++k) {
      const Tensor part = crop(z, i, std::min(h, i + tile_latent), j, std::min(w, j + tile_latent));
      if (ranks == 1) {
        row.push_back(decoder_.forward(part));
        continue;
      }
      const int owner = static_cast<int>(k % ranks);
      Tensor tile = owner == me ? decoder_.forward(part)
                                : Tensor::empty({part.size(0), 3, part.size(2) * f, part.size(3) * f});
      group->broadcast(tile, owner);
      row.push_back(std::move(tile));
    }
    rows.push_back(std::move(row));
  }
  std::vector<Tensor> result_rows;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<Tensor> parts;
    for (size_t j = 0; j < rows[i].size(); ++j) {
      Tensor& tile = rows[i][j];
      if (i > 0) blend(rows[i - 1][j], tile, blend_extent, true);
      if (j > 0) blend(rows[i][j - 1], tile, blend_extent, false);
      parts.push_back(crop(tile, 0, std::min(row_limit, tile.size(2)), 0, std::min(row_limit, tile.size(3))));
    }
    result_rows.push_back(ops::concat(parts, 3));
  }
  return ops::concat(result_rows, 2);
}

Tensor unscale_latents(const Tensor& latents, const VaeConfig& config) {
  Tensor out = Tensor::empty(latents.shape());
  const float* in = latents.data<float>();
  for (int64_t i = 0; i < latents.numel(); ++i)
    out.data<float>()[i] = in[i] / config.scaling_factor + config.shift_factor;
  return out;
}

std::vector<std::vector<uint8_t>> to_rgb8(const Tensor& images) {
  PD_CHECK(images.dim() == 4 && images.size(1) == 3, "to_rgb8: images must be [B, 3, H, W], got ", images.describe());
  const int64_t B = images.size(0), H = images.size(2), W = images.size(3);
  std::vector<std::vector<uint8_t>> out(static_cast<size_t>(B), std::vector<uint8_t>(static_cast<size_t>(H * W * 3)));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < H * W; ++p) {
        // (x * 0.5 + 0.5).clamp(0, 1), then (v * 255).round() with ties to even, in float32
        float v = images.data<float>()[(b * 3 + c) * H * W + p] * 0.5f + 0.5f;
        v = std::min(std::max(v, 0.f), 1.f);
        out[static_cast<size_t>(b)][static_cast<size_t>(p * 3 + c)] = static_cast<uint8_t>(std::nearbyint(v * 255.f));
      }
  return out;
}

}  // namespace paradit
