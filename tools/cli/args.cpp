#include "args.h"

#include <algorithm>
#include <cstdlib>

#include "core/error.h"
#include "io/mapped_file.h"
#include "usage.h"

namespace paradit::cli {

Args::Args(int argc, char** argv, int first, const std::vector<std::string>& flags) {
  for (int i = 1; i < first && i < argc; ++i) command_ += (command_.empty() ? "" : " ") + std::string(argv[i]);
  for (int i = first; i < argc; ++i) {
    if (is_help_flag(argv[i])) throw HelpRequested{command_};
    std::string arg = argv[i];
    PD_CHECK(arg.rfind("--", 0) == 0 && arg.size() > 2, "unexpected argument '", arg, "'", hint());
    arg = arg.substr(2);
    const auto eq = arg.find('=');
    if (eq != std::string::npos) {
      values_[arg.substr(0, eq)] = arg.substr(eq + 1);
    } else if (std::find(flags.begin(), flags.end(), arg) != flags.end()) {
      values_[arg] = "1";
    } else {
      if (i + 1 < argc) {
        values_[arg] = argv[++i];
      } else {  // reported after allow_only, so an unknown name is named as unknown
        values_[arg] = "";
        missing_value_ = arg;
      }
    }
  }
}

std::string Args::hint() const { return " (see paradit " + command_ + " --help)"; }

std::string Args::get(const std::string& name, const std::string& fallback) const {
  PD_CHECK(missing_value_ != name, "option --", name, " needs a value", hint());
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::require(const std::string& name) const {
  PD_CHECK(has(name), "missing required option --", name);
  return get(name);
}

int Args::get_int(const std::string& name, int fallback) const {
  if (!has(name)) return fallback;
  const std::string v = get(name);
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  PD_CHECK(!v.empty() && *end == '\0' && n >= -1000000 && n <= 1000000, "option --", name,
           " needs an integer, got '", v, "'");
  return static_cast<int>(n);
}

std::string Args::text_or_file(const std::string& name, bool required) const {
  const bool inline_text = has(name), file = has(name + "-file");
  PD_CHECK(!(inline_text && file), "give --", name, " or --", name, "-file, not both", hint());
  if (file) return read_regular_file(get(name + "-file"), size_t{64} << 20);
  PD_CHECK(inline_text || !required, "missing required option --", name, " (or --", name, "-file)", hint());
  return get(name);
}

void Args::allow_only(const std::vector<std::string>& known) const {
  for (const auto& [name, value] : values_)
    PD_CHECK(std::find(known.begin(), known.end(), name) != known.end(), "unknown option --", name, hint());
  PD_CHECK(missing_value_.empty(), "option --", missing_value_, " needs a value", hint());
}

}  // namespace paradit::cli
