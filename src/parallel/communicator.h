// The collectives the parallel model needs, on one group of ranks. Layers only see this
// interface: MpiCommunicator runs it between processes, LocalCommunicator is the group of one
// (any device), NcclCommunicator runs it between GPUs, and device_communicator.h routes a GPU
// run's tensors (host tensors over MPI; GPU tensors over NCCL, or staged through the host).
//
// All buffers are contiguous tensors of one dtype on one device; reductions are over f32. Each call
// counts its calls, bytes and seconds under its name, so `--timings` can print the traffic.
// Bytes are what this rank sends under the usual ring algorithms: all_gather (p-1) * in,
// reduce_scatter (p-1) * out, all_reduce 2 (p-1)/p * size, all_to_all (p-1)/p * size, and the
// message itself for send_recv.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/tensor.h"

namespace paradit {

struct CollectiveStats {
  int64_t calls = 0;
  double bytes = 0;
  double seconds = 0;
};

class CommStats {
 public:
  void add(const std::string& name, double bytes, double seconds);
  const std::map<std::string, CollectiveStats>& by_name() const { return stats_; }
  double total_bytes() const;
  void clear() { stats_.clear(); }

 private:
  std::map<std::string, CollectiveStats> stats_;
};

// A send_recv in flight: `wait` finishes it (and counts its time).
class PendingExchange {
 public:
  virtual ~PendingExchange() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // out = the inputs of all ranks concatenated in rank order: [size * in.numel()].
  virtual void all_gather(const Tensor& in, Tensor& out) = 0;
  // in holds `size` equal chunks; rank i receives the sum over ranks of chunk i (f32).
  virtual void reduce_scatter(const Tensor& in, Tensor& out) = 0;
  virtual void all_reduce(Tensor& inout) = 0;  // sum, f32
  // in holds `size` equal chunks; chunk j goes to rank j, and out's chunk i comes from rank i.
  virtual void all_to_all(const Tensor& in, Tensor& out) = 0;
  // Sends `send` to rank dst while receiving `recv` from rank src (a ring step).
  virtual std::unique_ptr<PendingExchange> start_send_recv(const Tensor& send, int dst, Tensor& recv, int src) = 0;
  void send_recv(const Tensor& send, int dst, Tensor& recv, int src) { start_send_recv(send, dst, recv, src)->wait(); }
  // `idle`: the wait has no deadline (ranks waiting for rank 0's next request, which may be
  // hours away on a server).
  virtual void broadcast(Tensor& buffer, int root, bool idle = false) = 0;
  virtual void barrier() = 0;
  // The sub-group of ranks that passed the same color, ordered by key (MPI_Comm_split).
  virtual std::unique_ptr<Communicator> split(int color, int key) = 0;

  // Shared by a communicator and the groups split from it, so one table covers a run.
  CommStats& stats() { return *stats_; }
  std::shared_ptr<CommStats> shared_stats() const { return stats_; }

 protected:
  std::shared_ptr<CommStats> stats_ = std::make_shared<CommStats>();
};

// The group of one rank: every collective is a copy. Lets the parallel code paths run, and be
// tested, without MPI.
class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_gather(const Tensor& in, Tensor& out) override;
  void reduce_scatter(const Tensor& in, Tensor& out) override;
  void all_reduce(Tensor&) override {}
  void all_to_all(const Tensor& in, Tensor& out) override;
  std::unique_ptr<PendingExchange> start_send_recv(const Tensor& send, int dst, Tensor& recv, int src) override;
  void broadcast(Tensor&, int, bool) override {}
  void barrier() override {}
  std::unique_ptr<Communicator> split(int color, int key) override;
};

}  // namespace paradit
