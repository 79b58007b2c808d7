// Picks cuBLAS or the WMMA kernel for the linear layers and runs y = x * w^T through the one picked.
#include "gemm.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <mutex>
#include <stdexcept>
#include <type_traits>

#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

namespace {

constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;  // NVIDIA's recommendation for Hopper
std::mutex setting_mutex;
GemmSetting current_setting;

}  // namespace

void set_gemm_setting(const GemmSetting& setting) {
  if (setting.mode != "auto" && setting.mode != "cublas" && setting.mode != "wmma")
    throw std::invalid_argument("gemm must be auto, cublas or wmma, got \"" + setting.mode + "\"");
  std::lock_guard<std::mutex> lock(setting_mutex);
  current_setting = setting;
}

GemmSetting gemm_setting() {
  std::lock_guard<std::mutex> lock(setting_mutex);
  return current_setting;
}

GemmLibraryChoice choose_gemm_library(const GemmSetting& setting) {
  GemmLibraryChoice choice;
  if (setting.mode == "wmma") {
    choice.why = "--gemm wmma";
    return choice;
  }
  choice.cublas = load_cublas(setting.cublas_candidates, &choice.why);
  if (choice.cublas) choice.why = choice.cublas->path + "; --gemm " + setting.mode;
  return choice;
}

Gemm::Gemm(const GemmSetting& setting, int num_sms, cudaStream_t stream) : num_sms_(num_sms), stream_(stream) {
  GemmLibraryChoice choice = choose_gemm_library(setting);
  if (choice.cublas) {
    CublasHandle handle = nullptr;
    const int status = choice.cublas->create(&handle);
    if (status == kCublasStatusSuccess) cublas_workspace_.resize(kCublasWorkspaceBytes);
    if (status == kCublasStatusSuccess && choice.cublas->set_stream(handle, stream) == kCublasStatusSuccess &&
        choice.cublas->set_math_mode(handle, kCublasDefaultMath) == kCublasStatusSuccess &&
        choice.cublas->set_workspace(handle, cublas_workspace_.data(), kCublasWorkspaceBytes) == kCublasStatusSuccess) {
      api_ = choice.cublas;
      handle_ = handle;
    } else {
      if (handle) choice.cublas->destroy(handle);
      choice.why = choice.cublas->path + " loaded but cublasCreate/SetStream failed (status " + std::to_string(status) + ")";
    }
  }
  if (setting.mode == "cublas" && handle_ == nullptr) throw std::runtime_error("--gemm cublas: " + choice.why);
  small_rows_gemv_ = setting.mode == "auto";
  description_ = handle_ ? "GEMM: cuBLAS (" + choice.why + ")"
                         : "GEMM: WMMA kernel (" + (setting.mode == "wmma" ? choice.why : "cuBLAS unavailable: " + choice.why) + ")";
  if (small_rows_gemv_) description_ += ", GEMV kernel for 1-4 rows";
}

Gemm::~Gemm() {
  if (handle_) api_->destroy(handle_);
}

size_t Gemm::workspace_floats(int M, int N, int K) const {
  return handle_ ? 0 : linear_split_workspace_floats(M, N, K, num_sms_);
}

template <typename T>
void Gemm::linear(const T* x, const T* w, const float* bias, int M, int N, int K, float* y, float* workspace) const {
  if (M == 0) return;
  if (small_rows_gemv_ && gemv_applies(x, w, M, K)) {
    linear_gemv(x, w, bias, M, N, K, y, stream_);
    return;
  }
  if (!handle_) {
    cuda::linear(x, w, bias, M, N, K, y, num_sms_, workspace, stream_);
    return;
  }
  // Row-major y[M, N] = x w^T is column-major y^T[N, M] = (w as column-major [K, N])^T * (x as column-major [K, M]).
  constexpr cudaDataType_t type = std::is_same_v<T, __half> ? CUDA_R_16F : CUDA_R_16BF;
  const float alpha = 1.f, beta = 0.f;
  const int status = api_->gemm_ex(handle_, kCublasOpT, kCublasOpN, N, M, K, &alpha, w, type, K, x, type, K, &beta, y,
                                   CUDA_R_32F, N, kCublasCompute32F, kCublasGemmDefault);
  if (status != kCublasStatusSuccess)
    throw std::runtime_error("cublasGemmEx failed (status " + std::to_string(status) + ") for M " + std::to_string(M) +
                             " N " + std::to_string(N) + " K " + std::to_string(K));
  add_bias_rows(y, bias, M, N, stream_);
}

template void Gemm::linear<__half>(const __half*, const __half*, const float*, int, int, int, float*, float*) const;
template void Gemm::linear<__nv_bfloat16>(const __nv_bfloat16*, const __nv_bfloat16*, const float*, int, int, int, float*,
                                          float*) const;

}  // namespace pagedllm::cuda
