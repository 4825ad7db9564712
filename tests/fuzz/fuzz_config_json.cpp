// libFuzzer target: any bytes as a model's config.json. Every reader (MMDiT, VAE, CLIP, T5) must
// return a validated config or throw paradit::Error naming the file; no crash, no hang, no huge
// allocation (the readers check depth, types and bounds before anything is allocated).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "models/clip/clip_text_model.h"
#include "models/mmdit/config.h"
#include "models/t5/t5_encoder.h"
#include "models/vae/config.h"

namespace {

template <typename F>
void expect_config_or_error(F read) {
  try {
    read();
  } catch (const paradit::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The readers take a path: an in-memory file keeps the disk out of the loop.
  static const int fd = memfd_create("config.json", 0);
  if (fd < 0) __builtin_trap();
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) __builtin_trap();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  expect_config_or_error([&] { paradit::MMDiTConfig::from_json_file(path); });
  expect_config_or_error([&] { paradit::VaeConfig::from_json_file(path); });
  expect_config_or_error([&] { paradit::ClipTextConfig::from_json_file(path); });
  expect_config_or_error([&] { paradit::T5Config::from_json_file(path); });
  return 0;
}
