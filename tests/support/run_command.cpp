#include "support/run_command.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace paradit::test {

CommandResult run_command(const std::string& command) {
  static std::atomic<int> counter{0};
  const std::string log = std::filesystem::temp_directory_path() /
                          ("paradit_cmd_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".log");
  const int status = std::system((command + " >" + log + " 2>&1").c_str());
  CommandResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  std::filesystem::remove(log);
  return r;
}

}  // namespace paradit::test
