"""GPU check: the ceilings the engine is measured against, through PyTorch: device-to-device copy bandwidth (bytes
read + written per second, 4 GiB) and the bf16 GEMM rate (8192^3 on random data), each the median of 10 after 3 warm-ups.
Prints one JSON line."""
import json, statistics

import torch


def timed(fn, repeats=10):
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1000)
    return statistics.median(times)


source = torch.empty(2**31, dtype=torch.uint8, device='cuda')
target = torch.empty_like(source)
copy_s = timed(lambda: target.copy_(source))
del source, target
n = 8192
a = torch.randn(n, n, dtype=torch.bfloat16, device='cuda')
b = torch.randn(n, n, dtype=torch.bfloat16, device='cuda')
gemm_s = timed(lambda: a @ b)
print(json.dumps({'device': torch.cuda.get_device_name(), 'copyGBs': 2 * 2**31 / copy_s / 1e9,
                  'bf16GemmTFLOPs': 2 * n**3 / gemm_s / 1e12}))
