#include "backend/cuda/gemm.h"

#include <cublasLt.h>

#include "backend/cuda/cuda_check.h"

namespace paradit::cuda {
namespace {

void lt_check(cublasStatus_t status, const char* what) {
  PD_CHECK(status == CUBLAS_STATUS_SUCCESS, "cuBLASLt: ", what, " failed with status ", static_cast<int>(status));
}

// Descriptors freed on every path out of linear().
struct Descriptors {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  ~Descriptors() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

}  // namespace

LtGemm::LtGemm(size_t workspace_bytes) : workspace_bytes_(workspace_bytes) {
  cublasLtHandle_t h = nullptr;
  lt_check(cublasLtCreate(&h), "cublasLtCreate");
  handle_ = h;
  PD_CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes_));
}

LtGemm::~LtGemm() {
  if (workspace_) cudaFree(workspace_);
  if (handle_) cublasLtDestroy(static_cast<cublasLtHandle_t>(handle_));
}

void LtGemm::linear(const void* x, const void* w, const void* bias, void* y, bool y_f32, int64_t M, int64_t N,
                    int64_t K, Epilogue epilogue, cudaStream_t stream) {
  PD_CHECK(M > 0 && N > 0 && K > 0, "gemm: empty shape ", M, "x", N, "x", K);
  PD_CHECK(epilogue == Epilogue::None || bias, "gemm: the bias epilogue needs a bias");
  // cuBLASLt is column-major: row-major y[M,N] is column-major y^T[N,M] = W[N,K] x^T, with
  // row-major W read as column-major K x N (transposed) and x as column-major K x M.
  Descriptors d;
  lt_check(cublasLtMatmulDescCreate(&d.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "matmul desc");
  const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
  lt_check(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof trans_a), "transa");
  lt_check(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof trans_b), "transb");
  if (epilogue != Epilogue::None) {
    const cublasLtEpilogue_t e = epilogue == Epilogue::Bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_GELU_BIAS;
    const cudaDataType_t bias_type = CUDA_R_16BF;
    lt_check(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof e), "epilogue");
    lt_check(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias), "bias");
    lt_check(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type),
             "bias type");
  }
  const cudaDataType_t out_type = y_f32 ? CUDA_R_32F : CUDA_R_16BF;
  lt_check(cublasLtMatrixLayoutCreate(&d.a, CUDA_R_16BF, static_cast<uint64_t>(K), static_cast<uint64_t>(N), K),
           "layout W");
  lt_check(cublasLtMatrixLayoutCreate(&d.b, CUDA_R_16BF, static_cast<uint64_t>(K), static_cast<uint64_t>(M), K),
           "layout x");
  lt_check(cublasLtMatrixLayoutCreate(&d.c, out_type, static_cast<uint64_t>(N), static_cast<uint64_t>(M), N),
           "layout y");
  lt_check(cublasLtMatmulPreferenceCreate(&d.pref), "preference");
  lt_check(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_,
                                                sizeof workspace_bytes_),
           "workspace");
  cublasLtMatmulHeuristicResult_t heuristic{};
  int found = 0;
  const auto h = static_cast<cublasLtHandle_t>(handle_);
  lt_check(cublasLtMatmulAlgoGetHeuristic(h, d.op, d.a, d.b, d.c, d.c, d.pref, 1, &heuristic, &found), "heuristic");
  PD_CHECK(found > 0, "cuBLASLt: no algorithm for ", M, "x", N, "x", K);
  const float alpha = 1.f, beta = 0.f;
  lt_check(cublasLtMatmul(h, d.op, &alpha, w, d.a, x, d.b, &beta, y, d.c, y, d.c, &heuristic.algo, workspace_,
                          workspace_bytes_, stream),
           "matmul");
}

}  // namespace paradit::cuda
