// Runs a shell command for the end-to-end tests and returns its exit code and combined output.
#pragma once

#include <string>

namespace paradit::test {

struct CommandResult {
  int code = -1;  // the exit status, or -1 when killed by a signal
  std::string output;
};

CommandResult run_command(const std::string& command);

}  // namespace paradit::test
