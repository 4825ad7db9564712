// diffusers' AutoencoderKL as SD3 uses it (16 latent channels, no quant convs): the decoder,
// the encoder (for image-to-image later), and tiled decoding with blended seams exactly like
// diffusers' enable_tiling(), for images larger than memory allows in one piece.
#pragma once

#include <string>
#include <vector>

#include "models/vae/blocks.h"
#include "models/vae/config.h"
#include "parallel/communicator.h"

namespace paradit {

class VaeDecoder {
 public:
  VaeDecoder() = default;
  static VaeDecoder load(const LoadContext& ctx, const std::string& prefix, const VaeConfig& config);
  Tensor forward(const Tensor& z) const;  // [B, latent, h, w] -> [B, out, h*f, w*f]

 private:
  struct UpBlock {
    std::vector<ResnetBlock2D> resnets;
    std::optional<Conv2d> upsample;  // nearest 2x, then this conv
  };
  Conv2d conv_in_, conv_out_;
  VaeMidBlock mid_;
  std::vector<UpBlock> up_;
  GroupNorm norm_out_;
};

class VaeEncoder {
 public:
  VaeEncoder() = default;
  static VaeEncoder load(const LoadContext& ctx, const std::string& prefix, const VaeConfig& config);
  Tensor forward(const Tensor& image) const;  // [B, in, H, W] -> moments [B, 2*latent, H/f, W/f]

 private:
  struct DownBlock {
    std::vector<ResnetBlock2D> resnets;
    std::optional<Conv2d> downsample;  // pad right/bottom by 1, 3x3 stride 2
  };
  Conv2d conv_in_, conv_out_;
  std::vector<DownBlock> down_;
  VaeMidBlock mid_;
  GroupNorm norm_out_;
};

class AutoencoderKL {
 public:
  AutoencoderKL() = default;
  // A diffusers vae/ folder (config.json + weights).
  static AutoencoderKL load_folder(const std::string& dir, Device device = Device::CPU);
  // The VAE inside an original single file (first_stage_model.*), config inferred; nothing
  // when the file holds none.
  // `scale_shift`: the latent scaling and shift factors to use (a single file has no config;
  // without them, SD3's).
  static std::optional<AutoencoderKL> load_from_single_file(
      const std::string& path, std::optional<std::pair<float, float>> scale_shift = std::nullopt,
      Device device = Device::CPU);
  static AutoencoderKL load(const LoadContext& ctx, const VaeConfig& config, bool with_encoder);

  Tensor decode(const Tensor& z) const { return decoder_.forward(z); }
  // diffusers' tiled_decode: tiles of sample_size pixels overlapping by a quarter, blended.
  // With a group of several ranks, tile k is decoded by rank k mod size and shared with the
  // others, so every rank returns the whole image (the same one, bit for bit).
  Tensor decode_tiled(const Tensor& z, Communicator* group = nullptr) const;
  // The mean of the latent distribution (what encode(...).latent_dist.mode() gives).
  Tensor encode_mean(const Tensor& image) const;
  bool has_encoder() const { return has_encoder_; }
  const VaeConfig& config() const { return config_; }

 private:
  VaeConfig config_;
  VaeDecoder decoder_;
  VaeEncoder encoder_;
  bool has_encoder_ = false;
};

// Latents as the denoiser leaves them -> what the decoder takes: z / scaling + shift.
Tensor unscale_latents(const Tensor& latents, const VaeConfig& config);
// Decoded images in [-1, 1], [B, 3, H, W] -> 8-bit RGB, [B][H*W*3], rounded as diffusers does.
std::vector<std::vector<uint8_t>> to_rgb8(const Tensor& images);

}  // namespace paradit
