// GPU check: every kernel against float64 (kernelChecks) and kernel speed against the copy bandwidth (kernelBench),
// as one JSON line. Exit 1 when a check fails or CUDA cannot be tested (cuda-addon.js says why).
import {configureCudaGemm} from '../../src/engine/native.js'
import {loadCudaAddon} from './cuda-addon.js'

const {tests, device} = loadCudaAddon()
// The test addon has its own copy of the GEMM setting (default: the bare sonames). Loading the engine's choice here
// first puts libcublas.so.13 in the process, so the test addon's dlopen by soname finds that same library.
const gemm = configureCudaGemm('auto')
const seed = Number(process.env.PAGEDLLM_GPU_SEED ?? 1)
const checks = JSON.parse(tests.kernelChecks(seed))
const failed = checks.filter((check: {pass: boolean}) => !check.pass)
// PAGEDLLM_KERNEL_BENCH=0: the checks alone (a short rerun after kernel changes); the timings take most of the part.
const bench = process.env.PAGEDLLM_KERNEL_BENCH === '0' ? null : JSON.parse(tests.kernelBench())
console.log(JSON.stringify({device, seed, cublas: gemm, checks: checks.length, failed, bench, allChecks: checks}))
process.exit(failed.length > 0 ? 1 : 0)
