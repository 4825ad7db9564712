// A small flag parser for the subcommands: --name value, --name=value and bare --flag. --help or
// -h where an option may stand throws HelpRequested (usage.h); errors point to --help.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace paradit::cli {

class Args {
 public:
  // Parses argv[first..]; `flags` lists the options that take no value.
  Args(int argc, char** argv, int first, const std::vector<std::string>& flags);
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  std::string require(const std::string& name) const;
  int get_int(const std::string& name, int fallback) const;
  // --NAME TEXT or --NAME-file FILE (for text too long for a command line); exactly one of them
  // when `required`.
  std::string text_or_file(const std::string& name, bool required) const;
  // Fails on any option not in `known`, so a typo is an error, not a silent default.
  void allow_only(const std::vector<std::string>& known) const;
  const std::string& command() const { return command_; }  // "generate", "bench t5", ...

 private:
  std::string hint() const;
  std::string command_;
  std::string missing_value_;  // the last option, when it has no value
  std::map<std::string, std::string> values_;
};

}  // namespace paradit::cli
