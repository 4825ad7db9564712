// `paradit info --model PATH`: what a checkpoint holds (files, tensors, dtypes, bytes),
// after full header validation. Later it will also print the inferred model config.
#include <cstdio>
#include <map>

#include "args.h"
#include "commands.h"
#include "core/error.h"
#include "io/checkpoint.h"
#include "models/mmdit/weights.h"

namespace paradit::cli {

int run_info(int argc, char** argv) {
  const Args args(argc, argv, 2, {"tensors"});
  args.allow_only({"model", "tensors"});
  const Checkpoint ck = Checkpoint::open(args.require("model"));
  std::map<std::string, std::pair<int64_t, uint64_t>> by_dtype;  // dtype -> (count, bytes)
  uint64_t total = 0;
  for (const auto& name : ck.names()) {
    const TensorRecord& r = ck.record(name);
    auto& [count, bytes] = by_dtype[dtype_name(r.dtype)];
    ++count;
    bytes += r.end - r.begin;
    total += r.end - r.begin;
  }
  std::printf("checkpoint: %s\n", ck.path().c_str());
  std::printf("files: %zu\n", ck.files().size());
  for (const auto& f : ck.files()) std::printf("  %s (%zu tensors)\n", f->path().c_str(), f->names().size());
  std::printf("tensors: %zu, %.3f MB\n", ck.names().size(), static_cast<double>(total) / 1e6);
  for (const auto& [dtype, stats] : by_dtype)
    std::printf("  %-8s %6lld tensors %12.3f MB\n", dtype.c_str(), static_cast<long long>(stats.first),
                static_cast<double>(stats.second) / 1e6);
  // If it is an SD3 transformer, say how we read it and what config we found or inferred.
  try {
    const auto mmdit = open_mmdit_weights(args.require("model"));
    std::printf("model: SD3 MMDiT, %s layout, config %s\n%s\n", mmdit.layout.c_str(),
                mmdit.config_inferred ? "inferred from tensor shapes" : "from config.json", mmdit.config.describe().c_str());
  } catch (const Error&) {
    std::printf("model: not an SD3 transformer checkpoint\n");
  }
  if (args.has("tensors"))
    for (const auto& name : ck.names()) {
      const TensorRecord& r = ck.record(name);
      std::printf("  %-60s %-8s %s\n", name.c_str(), dtype_name(r.dtype), shape_str(r.shape).c_str());
    }
  return 0;
}

}  // namespace paradit::cli
