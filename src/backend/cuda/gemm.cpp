// GEMMs through cuBLASLt. cuBLASLt is column-major, so row-major y[M, N] = x[M, K] w^T is
// computed as column-major y^T[N, M] = op(w) x^T: w is the first operand (transposed when it
// is stored [N, K]), x the second. One plan (descriptors and the chosen algorithm) per shape,
// types and epilogue, made on first use and kept: the first call asks the heuristic for its
// best candidates and times each on the real operands (unless the stream is being captured,
// when the heuristic's first choice is taken), so later calls, and graph replays, only launch.
#include <cublasLt.h>

#include <map>
#include <mutex>
#include <tuple>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_ops.h"
#include "backend/cuda/stream.h"

namespace paradit::cuda {
namespace {

void lt_check(cublasStatus_t status, const char* what) {
  PD_CHECK(status == CUBLAS_STATUS_SUCCESS, "cuBLASLt: ", what, " failed with status ", static_cast<int>(status));
}

cudaDataType_t lt_type(DType t) {
  switch (t) {
    case DType::F32: return CUDA_R_32F;
    case DType::BF16: return CUDA_R_16BF;
    case DType::F16: return CUDA_R_16F;
    default: fail("cuBLASLt: ", dtype_name(t), " is not a GEMM type here");
  }
}

// The shape, transposition, types, epilogue, bias, and the operands' alignment (the largest
// power of two dividing every pointer, up to 256: cuBLASLt's kernels assume 256 unless told,
// and a view into a tensor starts wherever it starts).
using PlanKey = std::tuple<int64_t, int64_t, int64_t, bool, DType, DType, int, bool, uint32_t>;

uint32_t alignment(std::initializer_list<const void*> pointers) {
  uint32_t a = 256;
  for (const void* p : pointers) {
    if (!p) continue;
    const auto address = reinterpret_cast<uintptr_t>(p);
    while (a > 1 && address % a != 0) a /= 2;
  }
  return a;
}

struct Plan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool tuned = false;
  ~Plan() {
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

class Lt {
 public:
  static Lt& get() {
    static Lt lt;
    return lt;
  }
  cublasLtHandle_t handle() const { return handle_; }
  // The side stream's GEMMs may run beside the main stream's: each stream has its workspace.
  void* workspace() const { return on_side_stream() ? side_workspace_ : workspace_; }
  size_t workspace_bytes() const { return kWorkspace; }
  std::mutex mutex;
  std::map<PlanKey, std::unique_ptr<Plan>> plans;

 private:
  static constexpr size_t kWorkspace = 32u << 20;
  Lt() {
    lt_check(cublasLtCreate(&handle_), "cublasLtCreate");
    PD_CUDA_CHECK(cudaMalloc(&workspace_, kWorkspace));
    PD_CUDA_CHECK(cudaMalloc(&side_workspace_, kWorkspace));
  }
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  void* side_workspace_ = nullptr;
};

float time_algo(Lt& lt, Plan& plan, const cublasLtMatmulAlgo_t& algo, const void* w, const void* x, void* y) {
  const float alpha = 1.f, beta = 0.f;
  cudaEvent_t start, stop;
  PD_CUDA_CHECK(cudaEventCreate(&start));
  PD_CUDA_CHECK(cudaEventCreate(&stop));
  float best = 1e30f;
  for (int rep = 0; rep < 3; ++rep) {
    PD_CUDA_CHECK(cudaEventRecord(start, stream()));
    const cublasStatus_t s = cublasLtMatmul(lt.handle(), plan.op, &alpha, w, plan.a, x, plan.b, &beta, y, plan.c, y,
                                            plan.c, &algo, lt.workspace(), lt.workspace_bytes(), stream());
    PD_CUDA_CHECK(cudaEventRecord(stop, stream()));
    PD_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.f;
    PD_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    if (s != CUBLAS_STATUS_SUCCESS) {
      best = 1e30f;
      break;
    }
    if (rep > 0 && ms < best) best = ms;  // the first run warms up
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return best;
}

}  // namespace

void gemm(const Tensor& x, const Tensor& w, bool trans_w, const Tensor* bias, Tensor& y, Epilogue epilogue) {
  const int64_t M = x.size(0), K = x.size(1), N = y.size(1);
  PD_CHECK(M > 0 && N > 0 && K > 0, "cuda gemm: empty shape ", M, "x", N, "x", K);
  // cuBLASLt's bias epilogue reads a bias of the output's type.
  Tensor bias_y;
  if (bias) bias_y = bias->dtype() == y.dtype() ? *bias : bias->to(y.dtype());
  const bool lt_gelu = epilogue == Epilogue::GeluTanh;
  Lt& lt = Lt::get();
  const uint32_t align = alignment({x.raw(), w.raw(), y.raw(), bias ? bias_y.raw() : nullptr});
  const PlanKey key{M, N, K, trans_w, x.dtype(), y.dtype(), static_cast<int>(lt_gelu), bias != nullptr, align};
  Plan* plan = nullptr;
  {
    std::lock_guard<std::mutex> lock(lt.mutex);
    auto& slot = lt.plans[key];
    if (!slot) {
      auto p = std::make_unique<Plan>();
      const cublasComputeType_t compute = CUBLAS_COMPUTE_32F;  // f32 accumulation; f32 inputs stay f32 (no TF32)
      lt_check(cublasLtMatmulDescCreate(&p->op, compute, CUDA_R_32F), "matmul desc");
      const cublasOperation_t ta = trans_w ? CUBLAS_OP_T : CUBLAS_OP_N, tb = CUBLAS_OP_N;
      lt_check(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "transa");
      lt_check(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "transb");
      cublasLtEpilogue_t e = CUBLASLT_EPILOGUE_DEFAULT;
      if (bias) e = lt_gelu ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
      else if (lt_gelu) e = CUBLASLT_EPILOGUE_GELU;
      lt_check(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof e), "epilogue");
      const cudaDataType_t in = lt_type(x.dtype()), out = lt_type(y.dtype());
      // w stored row-major [N, K] (trans_w) is column-major K x N; stored [K, N] it is N x K.
      if (trans_w)
        lt_check(cublasLtMatrixLayoutCreate(&p->a, in, static_cast<uint64_t>(K), static_cast<uint64_t>(N), K), "layout w");
      else
        lt_check(cublasLtMatrixLayoutCreate(&p->a, in, static_cast<uint64_t>(N), static_cast<uint64_t>(K), N), "layout w");
      lt_check(cublasLtMatrixLayoutCreate(&p->b, in, static_cast<uint64_t>(K), static_cast<uint64_t>(M), K), "layout x");
      lt_check(cublasLtMatrixLayoutCreate(&p->c, out, static_cast<uint64_t>(N), static_cast<uint64_t>(M), N), "layout y");
      slot = std::move(p);
    }
    plan = slot.get();
  }
  if (bias) {
    const void* bp = bias_y.raw();
    lt_check(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof bp), "bias");
  }
  if (!plan->tuned) {
    cublasLtMatmulPreference_t pref = nullptr;
    lt_check(cublasLtMatmulPreferenceCreate(&pref), "preference");
    const size_t ws = lt.workspace_bytes();
    lt_check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws),
             "workspace");
    for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
      lt_check(cublasLtMatmulPreferenceSetAttribute(pref, attr, &align, sizeof align), "alignment");
    cublasLtMatmulHeuristicResult_t found[8] = {};
    int count = 0;
    const cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(lt.handle(), plan->op, plan->a, plan->b, plan->c, plan->c,
                                                            pref, capturing() ? 1 : 8, found, &count);
    cublasLtMatmulPreferenceDestroy(pref);
    lt_check(s, "heuristic");
    PD_CHECK(count > 0, "cuBLASLt: no algorithm for ", M, "x", N, "x", K, " ", dtype_name(x.dtype()), " -> ",
             dtype_name(y.dtype()));
    int best = 0;
    if (count > 1) {
      float best_ms = 1e30f;
      for (int i = 0; i < count; ++i) {
        const float ms = time_algo(lt, *plan, found[i].algo, w.raw(), x.raw(), y.raw());
        if (ms < best_ms) {
          best_ms = ms;
          best = i;
        }
      }
    }
    plan->algo = found[best].algo;
    plan->tuned = true;
  }
  const float alpha = 1.f, beta = 0.f;
  lt_check(cublasLtMatmul(lt.handle(), plan->op, &alpha, w.raw(), plan->a, x.raw(), plan->b, &beta, y.raw(), plan->c,
                          y.raw(), plan->c, &plan->algo, lt.workspace(), lt.workspace_bytes(), stream()),
           "matmul");
  if (epilogue == Epilogue::GeluErf) activation(y, 0, y);  // cuBLASLt's GELU is the tanh form
}

}  // namespace paradit::cuda
