// The usage text of paradit and of each subcommand, printed by --help / -h.
#pragma once

#include <string>

namespace paradit::cli {

extern const char* kTopUsage;

// "generate", "eval transformer", "bench t5", ...; an unknown name gives the top-level usage.
std::string usage_for(const std::string& command);

bool is_help_flag(const char* arg);  // "--help" or "-h"

// Thrown by Args when it meets --help or -h where an option may stand; main prints the usage of
// `command` to stdout and exits 0.
struct HelpRequested {
  std::string command;
};

}  // namespace paradit::cli
