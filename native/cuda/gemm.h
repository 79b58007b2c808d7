// Which GEMM the CUDA backend's linear layers run: cuBLAS (loaded at run time) or the WMMA kernel, and why.
#pragma once
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "cublas_loader.h"
#include "cuda_memory.h"

namespace pagedllm::cuda {

// The process-wide choice JS sets before loading a model (cuda.configureGemm): mode "auto" takes cuBLAS when a
// candidate library loads and a handle can be made, else WMMA, and our GEMV kernel for steps of 1-4 rows (it streams
// the weights closer to the copy bandwidth than cuBLAS at those sizes); "cublas" fails without cuBLAS and uses it
// for every size; "wmma" never loads it and uses the WMMA kernel for every size.
struct GemmSetting {
  std::string mode = "auto";
  std::vector<std::string> cublas_candidates = default_cublas_candidates();
};
void set_gemm_setting(const GemmSetting& setting);  // throws on an unknown mode
GemmSetting gemm_setting();

// Resolves the library part of the setting without a device: the cuBLAS that would be used, or why none.
struct GemmLibraryChoice {
  const CublasApi* cublas = nullptr;
  std::string why;
};
GemmLibraryChoice choose_gemm_library(const GemmSetting& setting);

// One per backend (owns the cuBLAS handle, bound to the backend's stream).
class Gemm {
 public:
  Gemm(const GemmSetting& setting, int num_sms, cudaStream_t stream);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  bool uses_cublas() const { return handle_ != nullptr; }
  bool uses_gemv() const { return small_rows_gemv_; }
  // For the start-up line: e.g. "GEMM: cuBLAS (/usr/local/cuda/lib64/libcublas.so.13; --gemm auto)".
  const std::string& description() const { return description_; }
  // Floats of workspace linear() needs for this shape (WMMA split-K partials; 0 with cuBLAS).
  size_t workspace_floats(int M, int N, int K) const;
  // y[M, N] = x[M, K] * w[N, K]^T (+ bias[N]), fp32 out.
  template <typename T>
  void linear(const T* x, const T* w, const float* bias, int M, int N, int K, float* y, float* workspace) const;

 private:
  const CublasApi* api_ = nullptr;
  CublasHandle handle_ = nullptr;
  DeviceMemory cublas_workspace_;  // our own, so cuBLAS allocates nothing while a decode graph is captured
  bool small_rows_gemv_ = false;  // --gemm auto: linear_gemv for 1-4 rows
  int num_sms_ = 1;
  cudaStream_t stream_ = nullptr;
  std::string description_;
};

}  // namespace pagedllm::cuda
