// Multi-rank runs are led by rank 0: it validates each request and sends it to every rank, and
// all of them run it together (the CLI's one image, or a server's stream of jobs).
#pragma once

#include <optional>

#include "parallel/communicator.h"
#include "pipelines/sd35/pipeline.h"

namespace paradit {

// Rank 0: sends `request` to the other ranks, or null for "no more work".
void send_request(Communicator& world, const GenerateRequest* request);
// The other ranks: waits (without a deadline) for rank 0's next request; nothing at the end.
std::optional<GenerateRequest> receive_request(Communicator& world);
// Every rank: rank 0's value of `flag` (a cancel request seen on rank 0 only).
bool agree_with_root(Communicator& world, bool flag);

}  // namespace paradit
