// Runs moe_kernels.cuh's kernels (the mixture-of-experts router, routing, sort, gather and combine) on the CPU
// (cuda_emulation.h), as kernel_checks.cu's check_moe_routing and check_moe_dispatch do on a GPU: the fp32 router GEMM
// and the softmax top-k against float64 (with ties: equal probabilities to the lower expert first), the counting sort
// against pagedllm/moe_plan.h's host order over two 2048-slot chunks (exact), the gather (exact, bf16 and fp16) and the
// weighted combine with no, a gated and an ungated shared expert. Outputs start as NaN bytes, ids as -7.
// build: c++ -std=c++17 -O2 -Inative/include native/cuda/emulation/moe.cpp   usage: moe [seed]
#include <numeric>

#include "cuda_emulation.h"
#include "emulation_checks.h"
#include "../tests/shared_checks.h"

#include "../moe_kernels.cuh"

using namespace pagedllm::cuda;

std::vector<double> as_doubles(const std::vector<int32_t>& v) { return {v.begin(), v.end()}; }

void check_routing(EmulationChecks& checks) {
  const int rows = 40, hidden = 300, experts = 8, top_k = 3, outputs = experts + 1;  // + a shared expert's gate row
  const auto x = checks.random_floats(size_t(rows) * hidden, 1.f), w = checks.random_floats(size_t(outputs) * hidden, 0.1f);
  auto router = poisoned<float>(size_t(rows) * outputs);
  launch({unsigned(rows), 1, 1}, kRouterThreads, [&] { router_logits_kernel(x.data(), hidden, w.data(), outputs, router.data()); });
  std::vector<double> router_ref(router.size());
  for (int r = 0; r < rows; ++r)
    for (int e = 0; e < outputs; ++e) {
      double sum = 0;
      for (int h = 0; h < hidden; ++h) sum += double(x[size_t(r) * hidden + h]) * w[size_t(e) * hidden + h];
      router_ref[size_t(r) * outputs + e] = sum;
    }
  checks.report("router logits: 40 rows, hidden 300, 8 experts + shared gate", router, router_ref, 1e-5);

  // Rows chosen here: row 0 all equal (experts 0, 1, 2), row 1 a tie at the top (2 before 5), row 2 a tie for the last
  // place (3 before 6), row 3 exactly equal weights after the first; the rest random. Rows 128 and up: a second block.
  const int routed_rows = 150;
  auto logits = checks.random_floats(size_t(routed_rows) * outputs, 2.f);
  for (int e = 0; e < outputs; ++e) logits[e] = 0.5f;
  logits[outputs + 2] = logits[outputs + 5] = 9.f;
  for (int e = 0; e < experts; ++e) logits[2 * outputs + e] = -1.f;
  logits[2 * outputs + 1] = 4.f, logits[2 * outputs + 4] = 3.f, logits[2 * outputs + 3] = logits[2 * outputs + 6] = 2.f;
  for (int e = 0; e < experts; ++e) logits[3 * outputs + e] = e == 7 ? 1.f : -3.f;
  for (const bool renormalize : {false, true}) {
    std::vector<int32_t> chosen(size_t(routed_rows) * top_k, -7);
    auto weights = poisoned<float>(size_t(routed_rows) * top_k);
    launch({unsigned((routed_rows + kRouteThreads - 1) / kRouteThreads), 1, 1}, kRouteThreads, [&] {
      route_kernel(logits.data(), outputs, routed_rows, experts, top_k, renormalize, chosen.data(), weights.data());
    });
    const auto ref = softmax_top_k_reference(logits.data(), outputs, routed_rows, experts, top_k, renormalize);
    const std::string name = renormalize ? "route: top-3 of 8, renormalised" : "route: top-3 of 8";
    checks.report(name + ": experts (ties: lower index first)", as_doubles(chosen), ref.experts, 0.0);
    checks.report(name + ": weights", weights, ref.weights, 1e-5);
  }
}

template <typename T, typename ToFloat>
void check_gather(EmulationChecks& checks, const char* dtype, T (*from)(float), ToFloat to_double, int rows, int hidden,
                  int top_k, const std::vector<int32_t>& sorted_ref) {
  const int slots = rows * top_k;
  const auto values = checks.random_floats(size_t(rows) * hidden, 1.f);
  std::vector<T> x(values.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = from(values[i]);
  auto gathered = poisoned<T>(size_t(slots) * hidden);
  launch({unsigned(slots), 1, 1}, kRowThreads, [&] { gather_rows_kernel<T>(x.data(), hidden, sorted_ref.data(), top_k, gathered.data()); });
  std::vector<double> ref(gathered.size());
  for (int i = 0; i < slots; ++i)
    for (int h = 0; h < hidden; ++h) ref[size_t(i) * hidden + h] = to_double(x[size_t(sorted_ref[i] / top_k) * hidden + h]);
  checks.report(std::string("gather rows (") + dtype + "): each expert's rows in sorted order", gathered, ref, 0.0, to_double);
}

void check_dispatch(EmulationChecks& checks) {
  const int rows = 900, top_k = 3, experts = 6, hidden = 72, slots = rows * top_k;
  const std::vector<int32_t> chosen = random_distinct_picks(checks.rng(), rows, experts, top_k);
  std::vector<int32_t> sorted_ref(slots), positions_ref(slots), counts_ref(experts);
  pagedllm::moe_sort_slots(chosen.data(), slots, experts, sorted_ref.data(), positions_ref.data(), counts_ref.data());
  const int chunks = pagedllm::moe_sort_chunks(slots);
  auto chunk_counts = poisoned<int32_t>(size_t(chunks) * experts);
  auto counts = poisoned<int32_t>(experts), offsets = poisoned<int32_t>(experts);
  auto sorted = poisoned<int32_t>(slots), positions = poisoned<int32_t>(slots);
  launch({unsigned(chunks), 1, 1}, kSortThreads, [&] { count_chunk_kernel(chosen.data(), slots, experts, chunk_counts.data()); },
         experts * sizeof(int32_t));
  launch({1, 1, 1}, kSortThreads, [&] { scan_counts_kernel(chunk_counts.data(), chunks, experts, counts.data(), offsets.data()); });
  launch({unsigned(chunks), 1, 1}, kSortThreads, [&] {
    place_slots_kernel(chosen.data(), slots, experts, chunk_counts.data(), offsets.data(), sorted.data(), positions.data());
  });
  checks.report("sort slots: 2700 slots of 6 experts in 2 chunks: sorted slots", as_doubles(sorted), as_doubles(sorted_ref), 0.0);
  checks.report("sort slots: slot positions", as_doubles(positions), as_doubles(positions_ref), 0.0);
  checks.report("sort slots: counts", as_doubles(counts), as_doubles(counts_ref), 0.0);

  check_gather<__nv_bfloat16>(checks, "bf16", __float2bfloat16_rn, [](__nv_bfloat16 v) { return double(__bfloat162float(v)); },
                              rows, hidden, top_k, sorted_ref);
  check_gather<__half>(checks, "f16", __float2half_rn, [](__half v) { return double(__half2float(v)); }, rows, hidden, top_k,
                       sorted_ref);

  const auto expert_out = checks.random_floats(size_t(slots) * hidden, 1.f), weights = checks.random_floats(slots, 0.5f);
  const auto shared_out = checks.random_floats(size_t(rows) * hidden, 1.f), gate_logits = checks.random_floats(size_t(rows) * 2, 2.f);
  const char* names[] = {"combine: top-3 in rank order", "combine: + shared expert under its sigmoid gate",
                         "combine: + ungated shared expert"};
  for (const int shared_kind : {0, 1, 2}) {  // none, gated (stride 2: the router's extra column), ungated
    auto out = poisoned<float>(size_t(rows) * hidden);
    launch({unsigned(rows), unsigned((hidden + kRowThreads - 1) / kRowThreads), 1}, kRowThreads, [&] {
      combine_kernel(expert_out.data(), positions_ref.data(), weights.data(), top_k, hidden, shared_kind ? shared_out.data() : nullptr,
                     shared_kind == 1 ? gate_logits.data() + 1 : nullptr, 2, out.data());
    });
    const auto ref = moe_combine_reference(expert_out, positions_ref, weights, rows, top_k, hidden, shared_kind ? &shared_out : nullptr,
                                           shared_kind == 1 ? &gate_logits : nullptr);
    checks.report(names[shared_kind], out, ref, 1e-6);
  }
}

int main(int argc, char** argv) {
  EmulationChecks checks("moe kernels", argc, argv);
  check_routing(checks);
  check_dispatch(checks);
  return checks.finish();
}
