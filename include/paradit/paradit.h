// paradit's C++ library API: load an SD3 / SD3.5 pipeline once, generate images from requests.
//
//   auto pipe = paradit::api::Pipeline::load({.model = "stable-diffusion-3.5-large"});
//   auto result = pipe->generate({.prompt = "a fox in the snow", .seed = 42});
//   result.image.save_png("fox.png");
//
// Every failure a caller can cause (bad path, bad size, corrupt weights) throws
// std::runtime_error with a one-line message; cancelling throws paradit::api::Cancelled.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace paradit::api {

struct LoadOptions {
  std::string model;                 // diffusers pipeline folder (SD3 / SD3.5 or FLUX.1), or an SD3 transformer file
  std::string transformer;           // FLUX.1: a transformer file (BFL layout) in place of the folder's
  std::string clip_l, clip_g, t5xxl; // single-file text encoders (override the folder's)
  std::string vae;                   // a diffusers VAE folder (overrides the folder's vae/); FLUX: also ae.safetensors
  bool no_t5 = false;                // T5 replaced by zeros: less memory, weaker prompts
  // "auto" (bf16 where the CPU has native bf16 dot products, else f32), "f32" (the
  // reference; 4 bytes per weight, 32 GB for SD3.5 Large) or "bf16" (fast GEMMs, half that).
  std::string dtype = "auto";
  // "cpu", or "cuda": the text encoders, the transformer and the VAE on the GPU (bf16 weights
  // there with "auto"); one rank, no VAE tiling.
  std::string device = "cpu";
  bool vae_tiling = false;           // decode in blended tiles (large images, bounded memory)
  int threads = 0;                   // 0: all cores
  // Free each stage's weights when it is done (text encoders after encoding, reloaded for the
  // next request; the transformer's pages after denoising): for one-shot runs on small
  // machines, where SD3.5 Large's T5, transformer and VAE activations then never share RAM.
  bool release_after_use = false;
  // Multi-rank runs (start the program under mpirun): the mesh "RxC", the seed's config tuple
  // "((cfg,axis),(sp,axis),(tp,axis))" or "auto", and the Ulysses degree inside sp. Every rank
  // calls load and generate with the same arguments; rank 0 gets the image.
  std::string mesh;
  std::string parallel = "auto";
  int ulysses = 1;
  std::string parallel_profile = "cpu";  // what "auto" costs configs for: cpu, h100, h100-cluster, wormhole
};

struct Request {
  std::string prompt;
  std::string negative_prompt;
  int width = 0;                  // 0: the model's native size (1024 for SD3.5; the folder's sample_size)
  int height = 0;
  int steps = 0;                  // 0: the model's default (Large 28, Turbo 4, Medium 40)
  double guidance = -1;           // < 0: the model's default (3.5, 0, 4.5)
  double shift = 0;               // 0: the scheduler's (3.0)
  double true_cfg = 1.0;          // FLUX.1: true CFG with negative_prompt when above 1 (a second pass)
  uint64_t seed = 0;              // torch.Generator('cpu').manual_seed(seed) latents
  int max_sequence_length = 0;    // T5 tokens; 0: the model's default (256 unless its folder says)
  std::string init_latents_file;  // a .safetensors with tensor "latents" instead of the seed
};

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // height * width * 3
  std::string parameters;    // the generation parameters, as written into the PNG
  void save_png(const std::string& path) const;  // atomically (temporary file, then rename)
  std::vector<uint8_t> png() const;              // the PNG file's bytes
};

struct Result {
  Image image;
  int steps = 0;
  double guidance = 0;
  std::string timings_table;                                  // what --timings prints
  std::vector<std::pair<std::string, double>> sections;       // (name, seconds)
  void write_trace(const std::string& path) const;            // Chrome trace-event JSON
  std::string trace_json;
};

struct Progress {
  int step = 0;  // 1-based
  int total = 0;
  double elapsed_s = 0;
};

class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("generation cancelled") {}
};

class Pipeline {
 public:
  static std::unique_ptr<Pipeline> load(const LoadOptions& options);
  ~Pipeline();
  // In a multi-rank run only rank 0 calls generate; it hands the request to the other ranks,
  // which run it inside follow().
  Result generate(const Request& request, const std::function<void(const Progress&)>& on_step = {},
                  const std::atomic<bool>* cancel = nullptr) const;
  // Ranks other than 0: take part in every generation rank 0 starts, until rank 0 calls
  // release(). Returns the number of images made. Rank 0 and single-rank runs: returns 0.
  int follow() const;
  // Rank 0: ends the other ranks' follow(). Call once, when no more images will be made.
  void release() const;
  std::string model_name() const;  // "sd3.5-large", "sd3.5-medium", ... or "custom"
  int default_steps() const;
  double default_guidance() const;
  int max_size() const;  // the largest width or height the model supports, in pixels
  int default_size() const;  // the model's native width and height, in pixels
  std::string dtype() const;  // what "auto" resolved to: "f32" or "bf16"
  bool is_root() const;       // rank 0 of a multi-rank run (always true for one rank)
  std::string parallel_config() const;  // "mesh 2x4, parallel ((2,1),(2,0),(2,1)), 8 ranks"
  void validate(const Request& request) const;  // throws naming the bad field

 private:
  Pipeline();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paradit::api
