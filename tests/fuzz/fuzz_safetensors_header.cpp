// libFuzzer target: any byte string handed to the safetensors header parser must either
// parse or throw paradit::Error, never crash, hang or read out of bounds (ASan watches).
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto header = paradit::parse_safetensors_header(reinterpret_cast<const char*>(data), size, "fuzz");
    // A header that parses must describe tensors that lie inside the input.
    for (const auto& t : header.tensors)
      if (header.data_start + t.end > size) __builtin_trap();
  } catch (const paradit::Error&) {
  }
  return 0;
}
