// The paradit command. Errors the user can cause print one line and exit with code 2.
#include <chrono>
#include <cstdio>
#include <thread>
#include <cstring>
#include <exception>
#include <string>

#include "commands.h"
#include "core/error.h"
#include "parallel/mpi_communicator.h"
#ifdef PARADIT_HAVE_CUDA
#include "backend/cuda/device.h"
#endif
#include "parallel/setup.h"

namespace {

void usage() {
  std::fputs(
      "paradit: a C++ inference engine for Diffusion Transformers\n"
      "\n"
      "usage: paradit <command> [options]\n"
      "\n"
      "commands:\n"
      "  generate --model PATH --prompt P [--negative-prompt N] [--width 1024 --height 1024]\n"
      "       [--steps N] [--guidance G] [--shift S] [--seed S] [--rng torch] [--init-latents F]\n"
      "       [--clip-l F --clip-g F --t5xxl F] [--vae DIR] [--no-t5] [--max-sequence-length 256]\n"
      "       [-o|--output out.png] [--dtype auto|f32|bf16] [--threads N] [--vae-tiling] [--timings]\n"
      "       [--trace FILE] [--quiet] [--device cpu]\n"
      "                                  text to image\n"
      "  serve --model PATH [--host 127.0.0.1] [--port 8080] [--max-queue 16] [--max-size 1024]\n"
      "       [--timeout 30] [--no-t5] [--dtype auto|f32|bf16] [--threads N] [text-encoder options]\n"
      "                                  HTTP server: OpenAI, AUTOMATIC1111 and job APIs, web page\n"
      "  info --model PATH [--tensors]   validate a checkpoint and summarise it\n"
      "  eval transformer --model PATH --in IN.safetensors --out OUT.safetensors\n"
      "       [--dtype f32|bf16] [--device cpu] [--threads N]\n"
      "                                  one MMDiT forward pass on tensors from a file\n"
      "  eval clip-l|clip-g|t5 --model PATH --in IN.safetensors --out OUT.safetensors [--dtype f32|bf16]\n"
      "                                  one text encoder on input_ids from a file\n"
      "  eval encode-prompt --model PIPELINE [--clip-l F --clip-g F --t5xxl F] [--no-t5] --prompt P\n"
      "       [--negative-prompt N] [--max-sequence-length 256] [--clip-skip N] --out OUT.safetensors\n"
      "                                  SD3 prompt encoding, as diffusers' encode_prompt\n"
      "  tokenize [--model PIPELINE] --text T [--max-sequence-length 256]\n"
      "                                  the CLIP-L, CLIP-G and T5 ids as JSON\n"
      "  bench transformer (--config sd3.5-large|sd3.5-medium|sd3-medium --random-weights | --model PATH)\n"
      "       [--size 1024] [--batch 2] [--runs 3] [--warmup 1] [--dtype bf16|f32] [--threads N] [--json]\n"
      "                                  time denoising steps and report TFLOP/s\n"
      "  bench t5 --random-weights [--batch 2] [--tokens 256] [--dtype bf16|f32] [--json]\n"
      "                                  time the T5-XXL encoder\n"
      "  bench vae --random-weights [--size 1024] [--tiled] [--json]\n"
      "                                  time the SD3 VAE decoder\n"
      "  bench make-pipeline --out DIR [--config sd3.5-large | --like PIPELINE] [--shard-gb 2]\n"
      "                                  write a real-layout pipeline folder with random weights\n"
      "  plan --mesh RxC [--config sd3.5-large] [--size 1024] [--profile cpu|h100|h100-cluster|wormhole]\n"
      "                                  what --parallel auto would choose, with the cost of each config\n"
      "  version                         print the version and the CUDA backend's state\n"
      "\n"
      "multi-rank (under mpirun) for generate, serve, eval transformer, eval t5, bench transformer:\n"
      "  --mesh RxC [--parallel \"((cfg,axis),(sp,axis),(tp,axis))\"|auto] [--ulysses U]\n"
      "  [--comm-timeout S] [--profile cpu|h100|h100-cluster|wormhole]\n",
      stdout);
}

// Under mpirun an error must end every rank. Before the groups exist the checks are the same on
// every rank, so rank 0 reports and all exit 2 together. Afterwards an error may be one rank's
// own: it reports (rank 0 first; the others after a pause, in case rank 0 ends the job with the
// same message) and aborts the job, so no peer waits for it.
int report_error(const char* kind, const char* what, int code) {
  const int rank = paradit::mpi_world_rank(), size = paradit::mpi_world_size();
  if (size == 1) {
    std::fprintf(stderr, "paradit: %s: %s\n", kind, what);
    return code;
  }
  if (!paradit::parallel_setup_done()) {
    if (rank == 0) std::fprintf(stderr, "paradit: %s: %s\n", kind, what);
    paradit::finalize_mpi();
    return code;
  }
  if (rank != 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::fprintf(stderr, "paradit: rank %d: %s: %s\n", rank, kind, what);
  paradit::abort_mpi(code);
}

int run(int argc, char** argv) {
  const std::string command = argv[1];
  if (command == "generate") return paradit::cli::run_generate(argc, argv);
  if (command == "info") return paradit::cli::run_info(argc, argv);
  if (command == "serve") return paradit::cli::run_serve(argc, argv);
  if (command == "eval") return paradit::cli::run_eval(argc, argv);
  if (command == "bench") return paradit::cli::run_bench(argc, argv);
  if (command == "tokenize") return paradit::cli::run_tokenize(argc, argv);
  if (command == "plan") return paradit::cli::run_plan(argc, argv);
  if (command == "version" || command == "--version") {
    std::printf("paradit %s\n", PARADIT_VERSION);
#ifdef PARADIT_HAVE_CUDA
    const int gpus = paradit::cuda::device_count();
    std::printf("CUDA backend: built; %s\n",
                gpus ? (std::to_string(gpus) + " GPU(s), first: " + paradit::cuda::describe_device(0)).c_str()
                     : paradit::cuda::unavailable_reason().c_str());
#else
    std::printf("CUDA backend: not built\n");
#endif
    return 0;
  }
  std::fprintf(stderr, "paradit: unknown command '%s' (see paradit --help)\n", command.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  try {
    const int code = run(argc, argv);
    paradit::finalize_mpi();
    return code;
  } catch (const std::runtime_error& e) {
    return report_error("error", e.what(), 2);
  } catch (const std::exception& e) {
    return report_error("internal error", e.what(), 1);
  }
}
