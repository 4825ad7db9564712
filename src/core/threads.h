// One thread pool for everything: OpenMP, which Debian's oneDNN also runs on, so our kernels
// and the library's never oversubscribe the cores.
#pragma once

namespace paradit {

// Sets the threads used by our kernels and oneDNN; n <= 0 keeps the OpenMP default.
void set_num_threads(int n);
int num_threads();

}  // namespace paradit
