// Opens libcublas with dlopen and resolves its GEMM entry points by name (no link-time cuBLAS dependency).
#include "cublas_loader.h"

#include <dlfcn.h>

#include <map>
#include <memory>
#include <mutex>

#if __has_include(<cublas_api.h>)
// The build found cuBLAS headers (e.g. the nvidia-cublas wheel's include/): check our copies of the enums.
#include <cublas_api.h>
namespace {
constexpr bool same(int ours, int theirs) { return ours == theirs; }
}  // namespace
static_assert(same(pagedllm::cuda::kCublasOpT, CUBLAS_OP_T) && same(pagedllm::cuda::kCublasOpN, CUBLAS_OP_N));
static_assert(same(pagedllm::cuda::kCublasCompute32F, CUBLAS_COMPUTE_32F));
static_assert(same(pagedllm::cuda::kCublasGemmDefault, CUBLAS_GEMM_DEFAULT));
static_assert(same(pagedllm::cuda::kCublasDefaultMath, CUBLAS_DEFAULT_MATH));
static_assert(same(pagedllm::cuda::kCublasStatusSuccess, CUBLAS_STATUS_SUCCESS));
#endif

namespace pagedllm::cuda {

namespace {

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

template <typename Fn>
bool resolve(void* library, const char* name, Fn* out, std::string* missing) {
  *out = reinterpret_cast<Fn>(dlsym(library, name));
  if (*out == nullptr) *missing += std::string(missing->empty() ? "" : ", ") + name;
  return *out != nullptr;
}

// One attempt: nullptr and the reason when the candidate does not open or lacks a symbol.
std::unique_ptr<CublasApi> try_candidate(const std::string& candidate, std::string* why) {
  const std::string dir = directory_of(candidate);
  // libcublas needs libcublasLt (same major); from a path, load the sibling first so its RUNPATH is not relied on.
  if (!dir.empty()) {
    const size_t so = candidate.find(".so");
    const std::string suffix = so == std::string::npos ? std::string(".so") : candidate.substr(so);
    dlopen((dir + "/libcublasLt" + suffix).c_str(), RTLD_NOW | RTLD_GLOBAL);  // failure shows in the next dlopen
  }
  void* library = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* error = dlerror();
    *why = error ? error : "dlopen failed";
    return nullptr;
  }
  auto api = std::make_unique<CublasApi>();
  api->path = candidate;
  std::string missing;
  resolve(library, "cublasCreate_v2", &api->create, &missing);
  resolve(library, "cublasDestroy_v2", &api->destroy, &missing);
  resolve(library, "cublasSetStream_v2", &api->set_stream, &missing);
  resolve(library, "cublasSetMathMode", &api->set_math_mode, &missing);
  resolve(library, "cublasGemmEx", &api->gemm_ex, &missing);
  resolve(library, "cublasSetWorkspace_v2", &api->set_workspace, &missing);
  if (!missing.empty()) {
    *why = "missing " + missing;
    dlclose(library);
    return nullptr;
  }
  return api;  // the handle is kept open for the life of the process
}

}  // namespace

const CublasApi* load_cublas(const std::vector<std::string>& candidates, std::string* why) {
  // Loaded libraries are cached by candidate list, so every backend of a process reuses the first success.
  static std::mutex mutex;
  static std::map<std::vector<std::string>, std::unique_ptr<CublasApi>> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  auto found = loaded.find(candidates);
  if (found != loaded.end() && found->second) return found->second.get();
  std::string tried;
  for (const std::string& candidate : candidates) {
    std::string reason;
    if (auto api = try_candidate(candidate, &reason)) {
      const CublasApi* result = api.get();
      loaded[candidates] = std::move(api);
      return result;
    }
    tried += (tried.empty() ? "" : "; ") + candidate + ": " + reason;
  }
  if (why) *why = candidates.empty() ? "no cuBLAS candidates to try" : "cuBLAS not found (" + tried + ")";
  return nullptr;
}

std::vector<std::string> default_cublas_candidates() {
  return {"libcublas.so.13", "libcublas.so.12", "/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.12"};
}

}  // namespace pagedllm::cuda
