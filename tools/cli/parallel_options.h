// --mesh, --parallel, --ulysses, --comm-timeout: the multi-rank options of generate, eval
// transformer and bench transformer (run under mpirun).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "models/mmdit/config.h"
#include "parallel/setup.h"

namespace paradit::cli {

inline const std::vector<std::string> kParallelOptions = {"mesh", "parallel", "ulysses", "comm-timeout", "profile"};

void set_comm_timeout_option(const Args& args);  // --comm-timeout SECONDS
std::string parallel_option(const Args& args);    // --parallel, "auto" when absent; "" is an error
std::unique_ptr<ParallelGroups> parallel_groups(const Args& args, const StepShape& shape,
                                                Device device = Device::CPU);

}  // namespace paradit::cli
