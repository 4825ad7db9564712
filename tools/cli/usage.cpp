#include "usage.h"

#include <cstring>

namespace paradit::cli {
namespace {

constexpr const char* kMultiRank =
    "\n"
    "multi-rank (under mpirun; docs/parallel.md):\n"
    "  --mesh RxC  --parallel \"((cfg,axis),(sp,axis),(tp,axis))\"|auto  --ulysses U  --comm-timeout S\n"
    "  --profile cpu|h100|h100-cluster|wormhole   the hardware --parallel auto plans for (default cpu)\n";

struct Entry {
  const char* command;
  const char* text;
  bool multi_rank;
};

const Entry kEntries[] = {
    {"generate",
     "usage: paradit generate --model PATH --prompt P [options]\n"
     "\n"
     "Text to image. Options left out take the model's defaults (size, steps, guidance).\n"
     "  --model PATH               diffusers pipeline folder (SD3 / SD3.5 or FLUX.1), or an SD3 single file\n"
     "  --prompt P                 what to draw (--prompt-file F: read it from a file)\n"
     "  --negative-prompt N        what to steer away from (with guidance > 1)\n"
     "  --width W --height H       image size, multiples of the model's patch (default: the model's own)\n"
     "  --steps N --guidance G     denoising steps and guidance scale (SD3: classifier-free;\n"
     "                             FLUX.1 [dev]: into the guidance embedding, default 3.5)\n"
     "  --true-cfg S               FLUX.1: true CFG with --negative-prompt when S > 1 (a second pass)\n"
     "  --shift S                  flow-match timestep shift (default: the scheduler config)\n"
     "  --seed S --rng torch       initial noise as torch.Generator(\"cpu\").manual_seed(S)\n"
     "  --init-latents F           .safetensors with tensor \"latents\" [1,C,H/f,W/f]\n"
     "  --clip-l F --clip-g F --t5xxl F --vae DIR   component overrides; --no-t5 drops T5\n"
     "  --transformer F            FLUX.1: a transformer file (BFL's flux1-dev.safetensors layout, bf16 or\n"
     "                             fp8) in place of the folder's; --vae also takes BFL's ae.safetensors\n"
     "  --max-sequence-length N    T5 tokens (default: the model's, else 256)\n"
     "  -o, --output FILE          PNG to write (default out.png)\n"
     "  --dtype auto|f32|bf16      auto: bf16 GEMMs on the GPU and where the CPU has native bf16\n"
     "  --device cpu|cuda          cuda: every model on the GPU (no --vae-tiling; under mpirun each\n"
     "                             rank takes GPU local_rank % count); exit code 2 without a usable GPU\n"
     "  --threads N --vae-tiling\n"
     "  --timings --trace FILE --quiet\n",
     true},
    {"serve",
     "usage: paradit serve --model PATH [options]\n"
     "\n"
     "HTTP server: OpenAI images, AUTOMATIC1111 txt2img, asynchronous jobs, metrics, a web page.\n"
     "  --model PATH               loaded once, stays resident\n"
     "  --host 127.0.0.1 --port 8080\n"
     "  --max-queue 16             queued requests before 429\n"
     "  --max-size N               largest width or height accepted\n"
     "  --timeout 30               seconds for a request body to arrive, and for each write\n"
     "  --header-timeout 10        seconds from connecting to the end of the request headers\n"
     "  --max-connections 512      open connections at once; more are answered 503\n"
     "  --api-key KEY              every API route needs Authorization: Bearer KEY (or $PARADIT_API_KEY)\n"
     "  --cors-origin URL[,URL]    browser origins allowed besides the server's own\n"
     "  --access-log FILE|-        one line per request: time, method, path, status, duration\n"
     "  --keep-jobs 600            seconds a finished job's status and image stay readable (then 410)\n"
     "  --clip-l F --clip-g F --t5xxl F --vae DIR --no-t5 --vae-tiling\n"
     "  --transformer F            FLUX.1: a transformer file in place of the folder's\n"
     "  --dtype auto|f32|bf16 --threads N --device cpu|cuda\n",
     true},
    {"info",
     "usage: paradit info --model PATH [--tensors]\n"
     "\n"
     "Validates every header of a checkpoint (file, shard index or folder) and names each model it\n"
     "holds with the config paradit will use. --tensors lists every tensor.\n",
     false},
    {"eval",
     "usage: paradit eval transformer|clip-l|clip-g|t5|encode-prompt [options]\n"
     "\n"
     "One model on tensors from a file; paradit eval <what> --help for each.\n",
     false},
    {"eval transformer",
     "usage: paradit eval transformer --model PATH --in IN.safetensors --out OUT.safetensors\n"
     "           [--dtype f32|bf16] [--device cpu|cuda] [--threads N] [--timings]\n"
     "\n"
     "One transformer forward pass, with the inputs named as diffusers' model takes them.\n"
     "SD3 (MMDiT): hidden_states [B,C,H,W], encoder_hidden_states, pooled_projections, timestep [B].\n"
     "FLUX.1 (recognised from its files; one rank): hidden_states [B,N,C] (packed latents),\n"
     "encoder_hidden_states [B,T,joint_dim], pooled_projections, timestep [B] (t / 1000, as\n"
     "FluxPipeline passes it), img_ids [N,3], txt_ids [T,3], and guidance [B] for [dev].\n"
     "OUT: sample.\n",
     true},
    {"eval clip-l",
     "usage: paradit eval clip-l|clip-g|t5 --model PATH --in IN.safetensors --out OUT.safetensors\n"
     "           [--dtype f32|bf16] [--threads N]\n"
     "\n"
     "One text encoder. IN: input_ids [B,T] int32/int64. OUT: last_hidden_state (and for CLIP\n"
     "penultimate_hidden_state, text_embeds).\n",
     false},
    {"eval encode-prompt",
     "usage: paradit eval encode-prompt --model PIPELINE --prompt P --out OUT.safetensors\n"
     "           [--negative-prompt N] [--clip-l F --clip-g F --t5xxl F] [--no-t5]\n"
     "           [--max-sequence-length 256] [--clip-skip N]\n"
     "\n"
     "SD3 prompt encoding as diffusers' encode_prompt. OUT: prompt_embeds, pooled_prompt_embeds\n"
     "and the negative pair.\n",
     false},
    {"tokenize",
     "usage: paradit tokenize [--model PIPELINE] (--text T | --text-file F) [--max-sequence-length 256]\n"
     "\n"
     "The CLIP-L, CLIP-G (and, with a pipeline, T5) ids as JSON.\n",
     false},
    {"bench",
     "usage: paradit bench transformer|t5|vae|make-pipeline [options]\n"
     "\n"
     "Timings and TFLOP/s; paradit bench <what> --help for each.\n",
     false},
    {"bench transformer",
     "usage: paradit bench transformer (--config sd3.5-large|sd3.5-medium|sd3-medium|flux.1-dev|flux.1-schnell\n"
     "           --random-weights | --model PATH) [--size 1024] [--batch 2] [--runs 3] [--warmup 1]\n"
     "           [--dtype bf16|f32] [--prompt-tokens N] [--layers N] [--threads N] [--device cpu|cuda] [--graph]\n"
     "           [--breakdown] [--json]\n"
     "\n"
     "Times denoising steps of the transformer and reports TFLOP/s. --layers keeps the first N\n"
     "real-shaped blocks (FLUX: N double-stream and 2N single-stream blocks). FLUX defaults: batch 1,\n"
     "512 text tokens; SD3: 333 prompt tokens. FLUX runs on one rank (no --parallel yet). --graph (with\n"
     "--device cuda): also times the step captured as one CUDA graph and replayed. --breakdown: one more\n"
     "step with the GEMMs and the attention timed on the device: GEMM, attention and the rest.\n",
     true},
    {"bench t5",
     "usage: paradit bench t5 --random-weights [--batch 2] [--tokens 256] [--runs 3] [--warmup 1]\n"
     "           [--dtype bf16|f32] [--threads N] [--device cpu|cuda] [--json]\n"
     "\n"
     "Times the T5-XXL encoder with random weights of the real shapes.\n",
     true},
    {"bench vae",
     "usage: paradit bench vae --random-weights [--size 1024] [--tiled] [--runs 3] [--warmup 1]\n"
     "           [--threads N] [--device cpu|cuda] [--json]\n"
     "\n"
     "Times the SD3 VAE decoder with random weights of the real shapes.\n",
     false},
    {"bench make-pipeline",
     "usage: paradit bench make-pipeline --out DIR [--config sd3.5-large|sd3.5-medium|flux.1-dev|flux.1-schnell\n"
     "           | --like PIPELINE] [--shard-gb 2] [--tokenizers PIPELINE] [--seed N]\n"
     "\n"
     "Writes a diffusers SD3.5 or FLUX.1 pipeline folder with random weights in the released layout\n"
     "and dtypes (FLUX.1: 24 GB of transformer in bf16).\n",
     false},
    {"plan",
     "usage: paradit plan --mesh RxC [--config sd3.5-large] [--size 1024] [--batch 2] [--prompt-tokens N]\n"
     "           [--profile cpu|h100|h100-cluster|wormhole] [--parallel TUPLE] [--ulysses U]\n"
     "\n"
     "What --parallel auto would choose: every valid config with its modelled step time, traffic\n"
     "per rank and memory, best first.\n",
     false},
    {"version",
     "usage: paradit version\n"
     "\n"
     "Prints the version and the CUDA backend's state.\n",
     false},
};

const Entry* find(const std::string& command) {
  for (const auto& e : kEntries)
    if (command == e.command) return &e;
  if (command == "eval clip-g" || command == "eval t5") return find("eval clip-l");
  return nullptr;
}

}  // namespace

const char* kTopUsage =
    "paradit: a C++ inference engine for Diffusion Transformers\n"
    "\n"
    "usage: paradit <command> [options]      paradit <command> --help for its options\n"
    "\n"
    "commands:\n"
    "  generate       text to image\n"
    "  serve          HTTP server: OpenAI, AUTOMATIC1111 and job APIs, web page\n"
    "  info           validate a checkpoint and summarise it\n"
    "  eval           one model (transformer, clip-l, clip-g, t5, encode-prompt) on tensors from a file\n"
    "  tokenize       the CLIP and T5 ids of a text, as JSON\n"
    "  bench          time the transformer, T5 or the VAE; write a random-weight pipeline\n"
    "  plan           what --parallel auto would choose on a mesh\n"
    "  version        the version and the CUDA backend's state\n";

std::string usage_for(const std::string& command) {
  const Entry* e = find(command);
  if (!e) return kTopUsage;
  std::string text = e->text;
  if (e->multi_rank) text += kMultiRank;
  return text;
}

bool is_help_flag(const char* arg) { return !std::strcmp(arg, "--help") || !std::strcmp(arg, "-h"); }

}  // namespace paradit::cli
