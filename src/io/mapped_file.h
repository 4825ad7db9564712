// A read-only memory map of a whole file. Weight files are mapped, never read into RAM, so
// pages are loaded on first touch and dropped under memory pressure.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace paradit {

// Opens `path` for reading without blocking (a FIFO or device given as a model file would block
// a plain open) and fails unless it is a regular file. Returns the descriptor and its size.
int open_regular_file(const std::string& path, size_t* size);

// The whole of a regular file (configs, tokenizer files), at most `limit` bytes.
std::string read_regular_file(const std::string& path, size_t limit = size_t{1} << 30);

class MappedFile {
 public:
  // Maps `path`; throws paradit::Error naming the file when it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Drops this process's pages of the file (they stay in the page cache and come back on the
  // next touch): a finished stage's weights stop counting against its memory.
  void release_pages() const;

 private:
  MappedFile() = default;
  std::string path_;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace paradit
