#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "io/safetensors.h"

namespace paradit {
namespace {

void write_all(std::FILE* f, const void* p, size_t n, const std::string& path) {
  PD_CHECK(n == 0 || std::fwrite(p, 1, n, f) == n, path, ": write failed: ", std::strerror(errno));
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    PD_CHECK(seen.insert(name).second, path, ": tensor '", name, "' given twice");
    PD_CHECK(name != "__metadata__", path, ": '__metadata__' is not a tensor name");
    PD_CHECK(t.device() == Device::CPU, path, ": tensor '", name, "' is not on the CPU");
    header[name] = {{"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned

  const std::string tmp = str_cat(path, ".tmp.", ::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  PD_CHECK(f != nullptr, tmp, ": cannot create: ", std::strerror(errno));
  try {
    unsigned char len[8];
    uint64_t n = text.size();
    for (unsigned char& b : len) {
      b = static_cast<unsigned char>(n & 0xff);
      n >>= 8;
    }
    write_all(f, len, 8, tmp);
    write_all(f, text.data(), text.size(), tmp);
    for (const auto& [name, t] : tensors) write_all(f, t.raw(), t.nbytes(), tmp);
    PD_CHECK(std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0, tmp, ": flush failed: ", std::strerror(errno));
  } catch (...) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  PD_CHECK(std::fclose(f) == 0, tmp, ": close failed: ", std::strerror(errno));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    fail(path, ": cannot rename the finished file into place: ", std::strerror(err));
  }
}

}  // namespace paradit
