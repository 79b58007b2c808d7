// cuBLAS loaded at run time (dlopen): the six calls the GEMM uses, so the addon never links or needs libcublas.
#pragma once
#include <cuda_runtime.h>
#include <library_types.h>

#include <string>
#include <vector>

namespace pagedllm::cuda {

// The few cuBLAS enums we pass, with the values of cublas_api.h (CUDA 12/13; checked against the headers when
// the build finds them, see cublas_loader.cu). Enums travel by value as int in the C ABI.
enum CublasValue : int {
  kCublasStatusSuccess = 0,
  kCublasOpN = 0,
  kCublasOpT = 1,
  kCublasGemmDefault = -1,
  kCublasDefaultMath = 0,  // with fp32 compute and fp32 output there is no TF32 or half-precision reduction to allow
  kCublasCompute32F = 68,
};

using CublasHandle = struct CublasContextOpaque*;

struct CublasApi {
  std::string path;  // the library that answered
  int (*create)(CublasHandle*) = nullptr;
  int (*destroy)(CublasHandle) = nullptr;
  int (*set_stream)(CublasHandle, cudaStream_t) = nullptr;
  int (*set_math_mode)(CublasHandle, int) = nullptr;
  int (*set_workspace)(CublasHandle, void*, size_t) = nullptr;
  int (*gemm_ex)(CublasHandle, int transa, int transb, int m, int n, int k, const void* alpha, const void* a,
                 cudaDataType_t a_type, int lda, const void* b, cudaDataType_t b_type, int ldb, const void* beta,
                 void* c, cudaDataType_t c_type, int ldc, int compute_type, int algo) = nullptr;
};

// Tries each candidate (a path, or a bare name for dlopen's own search: LD_LIBRARY_PATH, ld.so.cache) in order and
// keeps the first that opens and has every symbol; for a path, libcublasLt from the same directory is opened
// first. Returns nullptr and says what each candidate answered in `why`. Thread-safe; the library stays loaded.
const CublasApi* load_cublas(const std::vector<std::string>& candidates, std::string* why);

// Candidates used when JS configured none: the soname (dlopen's own search), then the toolkit's default lib dir.
std::vector<std::string> default_cublas_candidates();

}  // namespace pagedllm::cuda
