// `paradit serve`: loads the pipeline once and serves it over HTTP until SIGTERM or SIGINT,
// which finish the running job and then exit.
#include <pthread.h>
#include <signal.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <cstring>
#include <cstdlib>
#include <cerrno>
#include <thread>

#include "args.h"
#include "commands.h"
#include "parallel_options.h"
#include "text_options.h"
#include "core/error.h"
#include "paradit/paradit.h"
#include "server/http_server.h"

namespace paradit::cli {

int run_serve(int argc, char** argv) {
  const Args args(argc, argv, 2, {"no-t5", "vae-tiling"});
  std::vector<std::string> known = {"host", "port", "max-queue", "max-size", "timeout", "api-key", "cors-origin",
                                    "access-log", "keep-jobs", "header-timeout", "max-connections"};
  known.insert(known.end(), kPipelineOptions.begin(), kPipelineOptions.end());
  known.insert(known.end(), kParallelOptions.begin(), kParallelOptions.end());
  args.allow_only(known);
  const Device device = parse_device(args.get("device", "cpu"));
#if defined(__GLIBC__)
  // A long-running server keeps its resident set at its live memory. Left to itself, glibc gives
  // threads that meet on a lock a heap of their own (up to 8 per core), keeps what is freed in each,
  // and raises the mmap threshold after a large free so that later large blocks stay there too: the
  // soak test saw RSS step up by 50 to 110 MB at a random request, then stay. Two heaps, and blocks
  // of 256 KiB and more always mapped and unmapped, keep it within 1% over 2,000 requests. The
  // compute threads allocate little (tensors come from the host cache and the step workspace).
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
  // Every thread started from here on inherits the blocked signals; one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  api::LoadOptions load = load_options(args);
  load.device = device_name(device);
  load.mesh = args.get("mesh");
  load.parallel = parallel_option(args);
  load.ulysses = args.get_int("ulysses", 1);
  load.parallel_profile = args.get("profile", "cpu");
  set_comm_timeout_option(args);
  const auto pipeline = api::Pipeline::load(load);
  if (!pipeline->is_root()) {  // under mpirun: rank 0 serves, the others compute with it
    pipeline->follow();
    return 0;
  }

  server::ServerOptions o;
  o.host = args.get("host", "127.0.0.1");
  o.port = args.get_int("port", 8080);
  const int max_queue = args.get_int("max-queue", 16);
  PD_CHECK(max_queue >= 1 && max_queue <= 10000, "--max-queue must be in 1..10000");
  o.max_queue = static_cast<size_t>(max_queue);
  o.timeout_s = args.get_int("timeout", 30);
  PD_CHECK(o.timeout_s >= 1 && o.timeout_s <= 3600, "--timeout must be in 1..3600 seconds");
  o.header_timeout_s = args.get_int("header-timeout", 10);
  PD_CHECK(o.header_timeout_s >= 1 && o.header_timeout_s <= 3600, "--header-timeout must be in 1..3600 seconds");
  const int max_connections = args.get_int("max-connections", 512);
  PD_CHECK(max_connections >= 1 && max_connections <= 100000, "--max-connections must be in 1..100000");
  o.max_connections = static_cast<size_t>(max_connections);
  o.model_name = pipeline->model_name();
  o.max_size = args.get_int("max-size", 0);
  PD_CHECK(o.max_size >= 0, "--max-size must not be negative");
  const int keep = args.get_int("keep-jobs", 600);
  PD_CHECK(keep >= 1 && keep <= 7 * 86400, "--keep-jobs must be in 1..604800 seconds");
  o.keep_jobs_s = keep;
  o.api_key = args.get("api-key");
  if (o.api_key.empty())
    if (const char* env = std::getenv("PARADIT_API_KEY")) o.api_key = env;
  for (size_t start = 0, comma; start < args.get("cors-origin").size(); start = comma + 1) {
    const std::string list = args.get("cors-origin");
    comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    const std::string origin = list.substr(start, comma - start);
    PD_CHECK(origin.rfind("http://", 0) == 0 || origin.rfind("https://", 0) == 0, "--cors-origin: '", origin,
             "' must look like https://host[:port]");
    o.cors_origins.push_back(origin);
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> log(nullptr, std::fclose);
  if (args.has("access-log")) {
    const std::string path = args.get("access-log");
    if (path == "-") {
      o.access_log = stderr;
    } else {
      log.reset(std::fopen(path.c_str(), "a"));
      PD_CHECK(log != nullptr, path, ": cannot open the access log: ", std::strerror(errno));
      o.access_log = log.get();
    }
  }
  if (!server::is_loopback_host(o.host) && o.api_key.empty())
    std::fprintf(stderr, "paradit serve: warning: listening on %s without --api-key: anyone who can reach it can "
                 "generate and read images (put a TLS proxy in front; see the README)\n", o.host.c_str());
  server::Server server(*pipeline, o);
  const int port = server.bind();
  // The first SIGTERM/SIGINT stops taking work and lets the running job finish; a second one
  // cancels that job at its next step.
  std::atomic<bool> over{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (over) return;
    std::fprintf(stderr, "paradit serve: signal %d, finishing the current job (signal again to cancel it)\n", sig);
    server.stop(false);
    sigwait(&signals, &sig);
    if (over) return;
    std::fprintf(stderr, "paradit serve: signal %d again, cancelling the running job\n", sig);
    server.stop(true);
  });
  std::fprintf(stderr, "paradit serve: %s on http://%s:%d/%s, pid %d\n", pipeline->model_name().c_str(),
               o.host.c_str(), port, load.mesh.empty() ? "" : (" (" + pipeline->parallel_config() + ")").c_str(),
               static_cast<int>(::getpid()));
  server.run();
  const uint64_t done = server.drain();  // the running job completes (or is cancelled) before we exit
  over = true;
  pthread_kill(waiter.native_handle(), SIGTERM);  // wake the waiter wherever it waits
  waiter.join();
  pipeline->release();
  std::fprintf(stderr, "paradit serve: %llu jobs done, exiting\n", static_cast<unsigned long long>(done));
  return 0;
}

}  // namespace paradit::cli
