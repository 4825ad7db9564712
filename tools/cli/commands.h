// The paradit subcommands; each returns the process exit code.
#pragma once

namespace paradit::cli {

int run_info(int argc, char** argv);

}  // namespace paradit::cli
