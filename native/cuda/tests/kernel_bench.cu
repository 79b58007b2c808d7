// Times each kernel with device events (warm-up, then the median of repeats) and sets its bytes moved against the
// device-to-device copy bandwidth measured in the same run; GEMMs also report TFLOP/s.
#include <algorithm>
#include <numeric>
#include <random>
#include <sstream>
#include <vector>

#include "cuda_common.cuh"
#include "cuda_memory.h"
#include "cuda_ops.h"
#include "gemm.h"
#include "kernel_bench.h"

namespace pagedllm {

namespace {

using namespace pagedllm::cuda;
using bf16 = __nv_bfloat16;

// Median milliseconds of `repeats` runs after `warmup` runs.
template <typename F>
double median_ms(F&& run, int warmup = 3, int repeats = 20) {
  for (int i = 0; i < warmup; ++i) run();
  cudaEvent_t start, stop;
  PAGEDLLM_CUDA_CHECK(cudaEventCreate(&start));
  PAGEDLLM_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<float> times;
  for (int i = 0; i < repeats; ++i) {
    PAGEDLLM_CUDA_CHECK(cudaEventRecord(start));
    run();
    PAGEDLLM_CUDA_CHECK(cudaEventRecord(stop));
    PAGEDLLM_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    PAGEDLLM_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

// Device buffer of random values (never zeros: they can run faster than real data).
DeviceMemory random_device(size_t bytes, std::mt19937& rng) {
  std::vector<uint16_t> host(bytes / 2);
  std::uniform_int_distribution<int> exponent(0x3c00, 0x3fff);  // bf16 bit patterns of moderate magnitude
  for (auto& h : host) h = uint16_t(exponent(rng) | (rng() & 1 ? 0x8000 : 0));
  DeviceMemory memory(bytes);
  PAGEDLLM_CUDA_CHECK(cudaMemcpy(memory.data(), host.data(), host.size() * 2, cudaMemcpyHostToDevice));
  return memory;
}

class Report {
 public:
  explicit Report(double copy_gbs) : copy_gbs_(copy_gbs) {}
  void add(const std::string& name, double ms, double bytes, double flops = 0) {
    const double gbs = bytes / (ms * 1e-3) / 1e9;
    if (count_++ > 0) json_ << ",";
    json_ << "{\"name\":\"" << name << "\",\"ms\":" << ms << ",\"bytes\":" << bytes << ",\"flops\":" << flops
          << ",\"GBs\":" << gbs << ",\"ofCopy\":" << gbs / copy_gbs_ << ",\"TFLOPs\":" << flops / (ms * 1e-3) / 1e12 << "}";
  }
  std::string kernels() const { return "[" + json_.str() + "]"; }

 private:
  double copy_gbs_;
  std::ostringstream json_;
  int count_ = 0;
};

void bench_attention(Report& report, std::mt19937& rng, int batch, int context, int num_heads, int num_kv_heads,
                     int head_dim = 128) {
  const int block_size = 16, blocks_per_seq = context / block_size;
  const KvLayout layout{1, block_size, num_kv_heads, head_dim};
  const int num_blocks = batch * blocks_per_seq;
  DeviceMemory pool = random_device(size_t(num_blocks) * layout.block_stride() * sizeof(bf16), rng);
  std::vector<int32_t> order(num_blocks);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);  // scattered blocks, as after a while of paging
  std::vector<int32_t> row_seq(batch), row_kv_len(batch, context);
  std::iota(row_seq.begin(), row_seq.end(), 0);
  const int width = (num_heads + 2 * num_kv_heads) * head_dim;
  std::vector<float> qkv(size_t(batch) * width);
  std::normal_distribution<float> normal;
  for (float& v : qkv) v = normal(rng);
  DeviceMemory qkv_dev(qkv.size() * 4), tables(order.size() * 4), seq_dev(batch * 4), len_dev(batch * 4);
  PAGEDLLM_CUDA_CHECK(cudaMemcpy(qkv_dev.data(), qkv.data(), qkv.size() * 4, cudaMemcpyHostToDevice));
  PAGEDLLM_CUDA_CHECK(cudaMemcpy(tables.data(), order.data(), order.size() * 4, cudaMemcpyHostToDevice));
  PAGEDLLM_CUDA_CHECK(cudaMemcpy(seq_dev.data(), row_seq.data(), batch * 4, cudaMemcpyHostToDevice));
  PAGEDLLM_CUDA_CHECK(cudaMemcpy(len_dev.data(), row_kv_len.data(), batch * 4, cudaMemcpyHostToDevice));
  const AttentionRows rows{batch, context, seq_dev.as<int32_t>(), len_dev.as<int32_t>(), tables.as<int32_t>(), blocks_per_seq};
  DeviceMemory workspace(std::max<size_t>(1, paged_attention_workspace_bytes(batch, num_heads, head_dim, context)));
  DeviceMemory out(size_t(batch) * num_heads * head_dim * sizeof(bf16));
  const double ms = median_ms([&] {
    paged_attention(qkv_dev.as<float>(), width, num_heads, pool.as<bf16>(), layout, 0, 0.088f, rows, workspace.as<float>(),
                    out.as<bf16>(), nullptr);
  });
  const double kv_bytes = 2.0 * batch * context * num_kv_heads * head_dim * sizeof(bf16);
  std::ostringstream name;
  name << "paged_attention decode bf16 b" << batch << " ctx" << context << " heads " << num_heads << "/" << num_kv_heads
       << " hd" << head_dim << " block16";
  report.add(name.str(), ms, kv_bytes + batch * (num_heads * head_dim * (4.0 + 2.0)));
}

void bench_linear(Report& report, std::mt19937& rng, int M, int N, int K, int num_sms) {
  // Weights rotate over copies of at least 128 MiB in all, so a matrix that fits the 60 MB L2 is still read from HBM.
  const size_t weight_bytes = size_t(N) * K * 2;
  const int copies = int(std::max<size_t>(1, ((size_t(128) << 20) + weight_bytes - 1) / weight_bytes));
  std::vector<DeviceMemory> weights;
  for (int i = 0; i < copies; ++i) weights.push_back(random_device(weight_bytes, rng));
  DeviceMemory x = random_device(size_t(M) * K * 2, rng), y(size_t(M) * N * 4);
  // Both GEMMs when cuBLAS loads: the WMMA kernel's gap to it is the figure that matters.
  GemmSetting setting;
  for (const char* mode : {"wmma", "cublas", "auto"}) {  // auto: the GEMV kernel at 1-4 rows, else as cublas
    setting.mode = mode;
    if (setting.mode != "wmma" && !choose_gemm_library(setting).cublas) continue;
    const Gemm gemm(setting, num_sms, nullptr);
    DeviceMemory workspace(std::max<size_t>(4, gemm.workspace_floats(M, N, K) * 4));
    int next = 0;
    const double ms = median_ms([&] {
      gemm.linear(x.as<bf16>(), weights[next++ % copies].as<bf16>(), nullptr, M, N, K, y.as<float>(), workspace.as<float>());
    });
    std::ostringstream name;
    name << "linear " << mode << " bf16 M" << M << " N" << N << " K" << K;
    report.add(name.str(), ms, 2.0 * (double(M) * K + double(N) * K) + 4.0 * M * N, 2.0 * M * N * K);
  }
}

}  // namespace

std::string run_cuda_kernel_bench() {
  std::string device;
  if (!cuda_device_available(&device)) throw std::runtime_error("no CUDA device: " + device);
  cudaDeviceProp prop{};
  PAGEDLLM_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::mt19937 rng(12345);

  // Ceiling: a 1 GiB device-to-device copy counts its bytes read plus bytes written.
  const size_t copy_bytes = size_t(1) << 30;
  DeviceMemory src = random_device(copy_bytes, rng), dst(copy_bytes);
  const double copy_ms = median_ms([&] { PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), copy_bytes, cudaMemcpyDeviceToDevice)); });
  const double copy_gbs = 2.0 * copy_bytes / (copy_ms * 1e-3) / 1e9;
  Report report(copy_gbs);
  report.add("cudaMemcpy device-to-device 1 GiB", copy_ms, 2.0 * copy_bytes);

  bench_attention(report, rng, 64, 1024, 32, 32);
  bench_attention(report, rng, 64, 1024, 32, 8);
  bench_attention(report, rng, 8, 8192, 32, 8);  // long context: partitioned + reduce
  for (const int batch : {1, 32, 256}) bench_attention(report, rng, batch, 512, 32, 8);  // the 8B decode steps timed
  for (const int batch : {32, 256}) bench_attention(report, rng, batch, 512, 32, 8, 64);  // the 1B shape bench runs

  {
    const int rows = 8192, hidden = 4096;
    DeviceMemory x = random_device(size_t(rows) * hidden * 4, rng), delta = random_device(size_t(rows) * hidden * 4, rng);
    DeviceMemory weight = random_device(hidden * 4, rng), out(size_t(rows) * hidden * 2);  // fp32 norm weights
    // The fp32 buffers hold random bf16 bit pairs: finite values of moderate size, which is all a norm needs.
    const double ms = median_ms([&] {
      fused_add_rms_norm(x.as<float>(), delta.as<float>(), nullptr, rows, hidden, weight.as<float>(), 1e-5f, out.as<bf16>(), nullptr);
    });
    report.add("fused_add_rms_norm bf16 8192x4096", ms, double(rows) * hidden * (4 + 4 + 4 + 2));
  }
  {
    const int tokens = 8192, inter = 11008;
    DeviceMemory gate_up = random_device(size_t(tokens) * 2 * inter * 4, rng), out(size_t(tokens) * inter * 2);
    const double ms = median_ms([&] { gated_and_mul(Activation::Silu, gate_up.as<float>(), tokens, inter, out.as<bf16>(), nullptr); });
    report.add("silu_and_mul bf16 8192x11008", ms, double(tokens) * inter * (8 + 2));
  }
  {
    const int rows = 64, vocab = 32000;
    DeviceMemory logits = random_device(size_t(rows) * vocab * 4, rng), stats(rows * 16), top(size_t(rows) * 20 * 8);
    const double ms = median_ms([&] {
      logits_row_stats(logits.as<float>(), rows, vocab, 20, stats.as<float>(), stats.as<int32_t>() + rows,
                       stats.as<float>() + 2 * rows, top.as<float>(), top.as<int32_t>() + rows * 20, nullptr);
    });
    report.add("logits_row_stats 64x32000 top-20", ms, double(rows) * vocab * 4);
  }
  bench_linear(report, rng, 64, 12288, 4096, prop.multiProcessorCount);   // decode qkv of a 7B model
  bench_linear(report, rng, 2048, 4096, 4096, prop.multiProcessorCount);  // prefill-sized
  // Batch-1 decode of an 8B (Llama-3.1) layer: fused qkv, o, fused gate/up, down, and the LM head.
  for (const auto& [N, K] : std::vector<std::pair<int, int>>{{6144, 4096}, {4096, 4096}, {28672, 4096}, {4096, 14336}, {128256, 4096}})
    bench_linear(report, rng, 1, N, K, prop.multiProcessorCount);
  std::ostringstream json;
  json << "{\"device\":\"" << prop.name << "\",\"copyGBs\":" << copy_gbs << ",\"kernels\":" << report.kernels() << "}";
  return json.str();
}

}  // namespace pagedllm
