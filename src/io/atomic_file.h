// Writing a whole file so that no reader ever sees half of it: a temporary file beside the
// target, flushed to disk, then renamed over it. Where renaming would be wrong the bytes go to the
// path itself: a device or FIFO is written in place (never replaced; a FIFO with no reader is
// refused), a symlink is followed to its target. An existing file keeps its mode. Errors name the
// output, and SIGINT/SIGTERM remove the temporary.
#pragma once

#include <string>

namespace paradit {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::string& path);
  ~AtomicFileWriter();  // removes the temporary unless commit() succeeded
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t size);
  void commit();  // flush, then rename into place

 private:
  std::string path_;    // as given, for messages
  std::string target_;  // where the bytes end up (symlinks followed)
  std::string temp_;    // empty when writing in place
  int fd_ = -1;
  int slot_ = -1;       // in the signal handler's list of temporaries
  bool committed_ = false;
};

void write_file_atomic(const std::string& path, const void* data, size_t size);
inline void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

}  // namespace paradit
