// The paradit command. Errors the user can cause print one line and exit with code 2.
#include <chrono>
#include <cstdio>
#include <thread>
#include <cstring>
#include <exception>
#include <string>

#include "backend/cpu/cpu_ops.h"
#include "core/cpu_features.h"
#include "commands.h"
#include "usage.h"
#include "core/error.h"
#include "parallel/mpi_communicator.h"
#ifdef PARADIT_HAVE_CUDA
#include "backend/cuda/device.h"
#endif
#include "parallel/setup.h"

namespace {

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

// "eval transformer", "bench t5": the key of a subcommand's usage text.
std::string command_key(int argc, char** argv) {
  std::string key = argv[1];
  if ((key == "eval" || key == "bench") && argc >= 3 && argv[2][0] != '-') key += std::string(" ") + argv[2];
  return key;
}

int run(int argc, char** argv) {
  const std::string command = argv[1];
  if ((command == "eval" || command == "bench") && (argc < 3 || paradit::cli::is_help_flag(argv[2]))) {
    std::fputs(paradit::cli::usage_for(command).c_str(), argc < 3 ? stderr : stdout);
    return argc < 3 ? 2 : 0;
  }
  if (command == "generate") return paradit::cli::run_generate(argc, argv);
  if (command == "info") return paradit::cli::run_info(argc, argv);
  if (command == "serve") return paradit::cli::run_serve(argc, argv);
  if (command == "eval") return paradit::cli::run_eval(argc, argv);
  if (command == "bench") return paradit::cli::run_bench(argc, argv);
  if (command == "tokenize") return paradit::cli::run_tokenize(argc, argv);
  if (command == "plan") return paradit::cli::run_plan(argc, argv);
  if (command == "version" || command == "--version") {
    if (argc > 2) {
      if (!paradit::cli::is_help_flag(argv[2]))
        throw paradit::Error(std::string("unexpected argument '") + argv[2] + "' (see paradit version --help)");
      std::fputs(paradit::cli::usage_for("version").c_str(), stdout);
      return 0;
    }
    std::printf("paradit %s\n", PARADIT_VERSION);
    std::printf("CPU: %s; bf16 attention kernel: %s\n", paradit::cpu_features().summary().c_str(),
                paradit::cpu::bf16_attention_kernel_name(paradit::cpu::best_bf16_attention_kernel()));
    std::printf("bf16 GEMM: %s\n", paradit::cpu::bf16_gemm_description().c_str());
#ifdef PARADIT_HAVE_CUDA
    const int gpus = paradit::cuda::device_count();
    std::printf("CUDA backend: built; %s\n",
                gpus ? (std::to_string(gpus) + " GPU(s), first: " + paradit::cuda::describe_device(0)).c_str()
                     : paradit::cuda::unavailable_reason().c_str());
    if (gpus) std::printf("GPU attention: %s\n", paradit::cuda::attention_backend().c_str());
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
  if (argc < 2 || paradit::cli::is_help_flag(argv[1]) || !std::strcmp(argv[1], "help")) {
    std::fputs(paradit::cli::kTopUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  try {
    const int code = run(argc, argv);
    paradit::finalize_mpi();
    return code;
  } catch (const paradit::cli::HelpRequested& h) {
    std::fputs(paradit::cli::usage_for(h.command.empty() ? command_key(argc, argv) : h.command).c_str(), stdout);
    paradit::finalize_mpi();
    return 0;
  } catch (const std::runtime_error& e) {
    return report_error("error", e.what(), 2);
  } catch (const std::exception& e) {
    return report_error("internal error", e.what(), 1);
  }
}
