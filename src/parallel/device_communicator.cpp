#include "parallel/device_communicator.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "core/device_memory.h"
#include "core/error.h"

namespace paradit {
namespace {

std::map<Device, DeviceCollectives>& registry() {
  static std::map<Device, DeviceCollectives> r;
  return r;
}

// Both on the host, or both on one device; anything else is a caller's bug.
bool on_host(const Tensor& a, const Tensor& b, const char* what) {
  PD_CHECK(a.device() == b.device(), what, ": ", a.describe(), " on ", device_name(a.device()), " and ",
           b.describe(), " on ", device_name(b.device()));
  return a.device() == Device::CPU;
}

Tensor to_host(const Tensor& t, const char* what) {
  PD_CHECK(t.is_contiguous(), what, ": ", t.describe(), " is a strided view (collectives take contiguous tensors)");
  return t.to(Device::CPU);
}

void upload(const Tensor& host, Tensor& out, const char* what) {
  PD_CHECK(out.is_contiguous() && out.nbytes() == host.nbytes(), what, ": ", out.describe(),
           " is a strided view or of another size");
  if (host.nbytes() > 0) device_memory(out.device()).copy_from_host(out.raw(), host.raw(), host.nbytes());
}

class StagedExchange : public PendingExchange {
 public:
  StagedExchange(std::unique_ptr<PendingExchange> host, Tensor host_send, Tensor host_recv, Tensor recv)
      : host_(std::move(host)), host_send_(std::move(host_send)), host_recv_(std::move(host_recv)),
        recv_(std::move(recv)) {}
  ~StagedExchange() override {
    if (host_) host_->wait();  // the host buffers must outlive the transfer
  }
  void wait() override {
    if (!host_) return;
    host_->wait();
    host_.reset();
    upload(host_recv_, recv_, "send_recv");
  }

 private:
  std::unique_ptr<PendingExchange> host_;
  Tensor host_send_, host_recv_, recv_;
};

class DeviceCommunicator : public Communicator {
 public:
  DeviceCommunicator(std::unique_ptr<Communicator> host, std::unique_ptr<Communicator> device)
      : host_(std::move(host)), device_(std::move(device)) {
    stats_ = host_->shared_stats();
  }
  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }

  void all_gather(const Tensor& in, Tensor& out) override { route(&Communicator::all_gather, in, out, "all_gather"); }
  void reduce_scatter(const Tensor& in, Tensor& out) override {
    route(&Communicator::reduce_scatter, in, out, "reduce_scatter");
  }
  void all_reduce(Tensor& inout) override {
    if (inout.device() == Device::CPU) return host_->all_reduce(inout);
    if (device_) return device_->all_reduce(inout);
    Tensor h = to_host(inout, "all_reduce");
    host_->all_reduce(h);
    upload(h, inout, "all_reduce");
  }
  void all_to_all(const Tensor& in, Tensor& out) override { route(&Communicator::all_to_all, in, out, "all_to_all"); }
  std::unique_ptr<PendingExchange> start_send_recv(const Tensor& send, int dst, Tensor& recv, int src) override {
    if (on_host(send, recv, "send_recv")) return host_->start_send_recv(send, dst, recv, src);
    if (device_) return device_->start_send_recv(send, dst, recv, src);
    Tensor host_send = to_host(send, "send_recv");
    Tensor host_recv = Tensor::empty(recv.shape(), recv.dtype());
    auto pending = host_->start_send_recv(host_send, dst, host_recv, src);
    return std::make_unique<StagedExchange>(std::move(pending), std::move(host_send), std::move(host_recv), recv);
  }
  void broadcast(Tensor& buffer, int root, bool idle) override {
    if (buffer.device() == Device::CPU) return host_->broadcast(buffer, root, idle);
    if (device_) return device_->broadcast(buffer, root, idle);
    Tensor h = to_host(buffer, "broadcast");
    host_->broadcast(h, root, idle);
    upload(h, buffer, "broadcast");
  }
  void barrier() override { host_->barrier(); }
  std::unique_ptr<Communicator> split(int color, int key) override {
    auto host = host_->split(color, key);
    auto device = device_ ? device_->split(color, key) : nullptr;
    return std::make_unique<DeviceCommunicator>(std::move(host), std::move(device));
  }

 private:
  // An in -> out collective: on the host, on the device's library, or staged through the host.
  void route(void (Communicator::*op)(const Tensor&, Tensor&), const Tensor& in, Tensor& out, const char* what) {
    if (on_host(in, out, what)) return (host_.get()->*op)(in, out);
    if (device_) return (device_.get()->*op)(in, out);
    Tensor h = Tensor::empty(out.shape(), out.dtype());
    (host_.get()->*op)(to_host(in, what), h);
    upload(h, out, what);
  }
  std::unique_ptr<Communicator> host_;
  std::unique_ptr<Communicator> device_;  // null: device tensors are staged through the host
};

constexpr size_t kIdentityBytes = 256;

// Whether every rank of `world` names a different device.
bool devices_distinct(Communicator& world, const std::string& identity, int64_t* distinct) {
  Tensor mine = Tensor::zeros({static_cast<int64_t>(kIdentityBytes)}, DType::U8);
  std::memcpy(mine.raw(), identity.data(), std::min(identity.size(), kIdentityBytes - 1));
  Tensor all = Tensor::empty({static_cast<int64_t>(kIdentityBytes) * world.size()}, DType::U8);
  world.all_gather(mine, all);
  std::set<std::string> seen;
  for (int r = 0; r < world.size(); ++r)
    seen.insert(std::string(static_cast<const char*>(all.raw()) + r * kIdentityBytes));
  *distinct = static_cast<int64_t>(seen.size());
  return static_cast<int>(seen.size()) == world.size();
}

}  // namespace

void register_device_collectives(Device device, DeviceCollectives collectives) { registry()[device] = collectives; }

std::unique_ptr<Communicator> staged_communicator(std::unique_ptr<Communicator> host,
                                                  std::unique_ptr<Communicator> device) {
  return std::make_unique<DeviceCommunicator>(std::move(host), std::move(device));
}

std::unique_ptr<Communicator> device_world(std::unique_ptr<Communicator> host, Device device,
                                           DeviceTransport* chosen) {
  DeviceTransport t;
  if (device == Device::CPU || host->size() == 1) {
    if (chosen) *chosen = t;
    return host;
  }
  const char* env = std::getenv("PARADIT_COMM");
  const std::string mode = env && *env ? env : "auto";
  PD_CHECK(mode == "auto" || mode == "staged" || mode == "nccl", "PARADIT_COMM must be auto, staged or nccl, got '",
           mode, "'");
  const auto it = registry().find(device);
  const bool have = it != registry().end() && it->second.make && it->second.identity;
  if (mode == "nccl") {
    PD_CHECK(have, "PARADIT_COMM=nccl: this build has no NCCL for ", device_name(device));
    t = {"nccl", "PARADIT_COMM=nccl"};
  } else if (mode == "staged") {
    t = {"staged", "PARADIT_COMM=staged"};
  } else if (!have) {
    t = {"staged", "this build has no NCCL"};
  } else {
    int64_t distinct = 0;
    if (devices_distinct(*host, it->second.identity(), &distinct))
      t = {"nccl", "one GPU per rank"};
    else
      t = {"staged", str_cat(host->size(), " ranks share ", distinct, distinct == 1 ? " GPU" : " GPUs",
                             " (NCCL needs a GPU per rank)")};
  }
  std::unique_ptr<Communicator> dev = t.name == "nccl" ? it->second.make(*host) : nullptr;
  if (chosen) *chosen = t;
  return std::make_unique<DeviceCommunicator>(std::move(host), std::move(dev));
}

}  // namespace paradit
