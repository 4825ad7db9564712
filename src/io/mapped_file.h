// A read-only memory map of a whole file. Weight files are mapped, never read into RAM, so
// pages are loaded on first touch and dropped under memory pressure.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace paradit {

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
