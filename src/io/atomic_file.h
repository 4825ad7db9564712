// Writing a whole file so that no reader ever sees half of it: a temporary file beside the
// target, flushed to disk, then renamed over it.
#pragma once

#include <string>

namespace paradit {

void write_file_atomic(const std::string& path, const void* data, size_t size);
inline void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

}  // namespace paradit
