// Error type and checks. Every failure the user can cause (bad file, bad shape, bad flag)
// becomes a paradit::Error with one line that says what and where; nothing aborts.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace paradit {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Concatenates any streamable values into one string: str_cat("tensor ", name, " has ", n).
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(str_cat(args...));
}

}  // namespace paradit

// PD_CHECK(cond, "message parts", ...): throws paradit::Error when cond is false.
#define PD_CHECK(cond, ...)                 \
  do {                                      \
    if (!(cond)) ::paradit::fail(__VA_ARGS__); \
  } while (0)
