#include "parallel/auto_config.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace paradit {

DeviceProfile device_profile(const std::string& name) {
  // Round public figures; the choice depends on their ratios, not on their last digit.
  // Mesh axis 1 joins consecutive ranks (one node under mpirun's default mapping), axis 0 the
  // rows, which cross nodes once the mesh is bigger than a node.
  if (name == "wormhole") return {name, 1.5e14, {2.5e10, 2.5e10}, 12e9};  // n150/n300: 12 GB, Ethernet
  if (name == "h100") return {name, 6.0e14, {3.0e11, 3.0e11}, 80e9};      // one HGX node: NVLink 4
  if (name == "h100-cluster") return {name, 6.0e14, {5.0e10, 3.0e11}, 80e9};  // rows over 400G InfiniBand
  if (name == "cpu") return {name, 4.0e11, {1.0e10, 1.0e10}, 24e9};       // shared-memory MPI on one host
  fail("unknown device profile '", name, "' (known: wormhole, h100, h100-cluster, cpu)");
}

PlanCost estimate(const ParallelConfig& c, const StepShape& s, const DeviceProfile& dev) {
  PlanCost p;
  p.config = c;
  const double T = c.tp.factor, S = c.sp.factor, U = c.ulysses, R = c.ring();
  const double b = static_cast<double>(s.batch) / c.cfg.factor;
  const double N = static_cast<double>(s.image_tokens), M = static_cast<double>(s.prompt_tokens);
  // Image tokens shard over sp x tp, prompt tokens over tp (Megatron sequence parallelism);
  // an sp rank's attention sees its tp group's Nl = T * Nt rows.
  const double Nt = std::ceil(N / (S * T)), Nl = T * Nt, Mp = T * std::ceil(M / T);
  const double D = static_cast<double>(s.dim), d = static_cast<double>(s.head_dim);
  const double heads_local = std::ceil(static_cast<double>(s.heads) / (T * U)) * U;  // padded
  const double pad = heads_local * T / static_cast<double>(s.heads);                // >= 1
  const double L = static_cast<double>(s.layers), e = s.bytes_per_activation;

  // Matmuls per block: q,k,v,out (4 D^2 x pad) and the feed-forward (8 D^2) per token and
  // stream, split over tp; the prompt stream is whole on every sp rank.
  const double linear = 2.0 * b * (Nl + M) * (4 * D * D * pad + 8 * D * D) / T;
  const double attention = 4.0 * b * heads_local * (Nl + M) * (N + M) * d;
  p.compute_s = L * (linear + attention) / dev.flops;

  // Bytes sent per step. tp all-gathers the rows before each attention and feed-forward and
  // reduce-scatters their outputs, (T-1)/T of the data each (the last block gathers its prompt
  // rows for K/V but has no prompt outputs; MMDiT-X blocks have one more image attention), and
  // gathers adaLN's f32 outputs (6D per stream, 9D for MMDiT-X, 2D in the last block's prompt
  // norm and the final norm). The ring passes K and V blocks R-1 times per attention; Ulysses
  // moves q, k, v and the output (U-1)/U each, and gathers the prompt heads of the joint
  // attentions. Once per step the tp then sp groups gather the output tokens and the cfg groups
  // the two halves (f32).
  const double X = static_cast<double>(s.dual_layers), attentions = L + X;
  double tp_bytes = 0, sp_bytes = 0, cfg_bytes = 0;
  tp_bytes += (T - 1) / T * b * D * e * (2 * (2 * L + X) * Nl + (4 * L - 3) * Mp);
  tp_bytes += (T - 1) * b * Nt * static_cast<double>(s.out_per_token) * 4;
  tp_bytes += (T - 1) / T * b * D * 4 * (6 * L + 3 * X + 6 * (L - 1) + 2 + 2);
  sp_bytes += attentions * (R - 1) * 2.0 * b * heads_local * (U * Nl) * d * e / U;
  sp_bytes += attentions * 4.0 * (U - 1) / U * b * heads_local * Nl * d * e;
  sp_bytes += L * (U - 1) * b * (heads_local / U) * M * d * e;
  sp_bytes += (S - 1) * b * Nl * static_cast<double>(s.out_per_token) * 4;
  cfg_bytes += (c.cfg.factor - 1) * b * N * static_cast<double>(s.out_per_token) * 4;
  p.comm_bytes = tp_bytes + sp_bytes + cfg_bytes;
  // Each group's traffic crosses the links of its own mesh axis.
  const double messages = L * ((T > 1 ? 6 : 0) + (R > 1 ? R - 1 : 0) + (U > 1 ? 5 : 0));
  p.comm_s = tp_bytes / dev.link_bytes_per_s[c.tp.axis] + sp_bytes / dev.link_bytes_per_s[c.sp.axis] +
             cfg_bytes / dev.link_bytes_per_s[c.cfg.axis] + messages * 10e-6;

  // Weights: the blocks' share splits over tp (heads padded), the rest is replicated; the
  // activations of one block's largest intermediates (the 4D feed-forward) stay resident.
  const double block_share = 36.0 * D * D * L / s.weight_params;
  const double weights = s.weight_params * s.bytes_per_weight *
                         ((1 - std::min(1.0, block_share)) + std::min(1.0, block_share) * pad / T);
  const double activations = 12.0 * b * (Nl + M) * D * 4;
  p.memory_bytes = weights + activations;
  p.fits = p.memory_bytes <= dev.memory_bytes;
  return p;
}

std::vector<PlanCost> rank_configs(const Mesh& mesh, const StepShape& shape, const DeviceProfile& device) {
  std::vector<PlanCost> plans;
  const int P = mesh.size();
  for (int cfg = 1; cfg <= 2; ++cfg)
    for (int sp = 1; sp <= P; ++sp)
      for (int tp = 1; tp <= P; ++tp) {
        if (cfg * sp * tp != P || cfg > shape.batch) continue;  // cfg splits the batch
        for (int axes = 0; axes < 8; ++axes) {
          ParallelConfig c;
          c.cfg = {cfg, axes & 1};
          c.sp = {sp, (axes >> 1) & 1};
          c.tp = {tp, (axes >> 2) & 1};
          // A factor of 1 may sit on either axis; keep one spelling of each config.
          if ((cfg == 1 && c.cfg.axis != 0) || (sp == 1 && c.sp.axis != 0) || (tp == 1 && c.tp.axis != 0)) continue;
          try {
            validate(c, mesh);
          } catch (const Error&) {
            continue;
          }
          plans.push_back(estimate(c, shape, device));
        }
      }
  std::stable_sort(plans.begin(), plans.end(), [](const PlanCost& a, const PlanCost& b) {
    if (a.fits != b.fits) return a.fits;
    const double ta = a.total_s(), tb = b.total_s();
    if (std::abs(ta - tb) > 1e-9 * std::max(ta, tb)) return ta < tb;
    const int pa = (a.config.tp.axis == 1) * 2 + (a.config.sp.axis == 0);
    const int pb = (b.config.tp.axis == 1) * 2 + (b.config.sp.axis == 0);
    return pa > pb;
  });
  return plans;
}

ParallelConfig choose_config(const Mesh& mesh, const StepShape& shape, const DeviceProfile& device) {
  const auto plans = rank_configs(mesh, shape, device);
  PD_CHECK(!plans.empty(), "--parallel auto: no valid config on mesh ", mesh.str());
  return plans.front().config;
}

}  // namespace paradit
