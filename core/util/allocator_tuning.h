// Process-wide malloc settings for tensor workloads. Call first thing in main().
#pragma once

namespace attnx {

// LibTorch takes CPU tensors from malloc. glibc serves blocks over 32 MB with a fresh mmap and
// hands memory back to the kernel on free, so a training step that allocates and frees ~800 MB of
// logits page-faults and zeroes it all again every step: `attnx-cli pretrain` (6 layers, width 192,
// batch 8 x 512) took 2.8 M page faults in six steps, spent as long in the kernel as in user space
// and ran at ~450 tokens/s. With big blocks kept on the heap, kept after free, and the heap backed
// by transparent huge pages, it takes 28 k faults and runs at ~1300 tokens/s.
//
// Two of those three settings exist only as GLIBC_TUNABLES, which glibc reads once at start-up, so
// this sets the variable and re-executes the program (same arguments, same pid). It returns
// normally when the settings are already in place, when the user set malloc tunables of their own,
// when ATTNX_NO_MALLOC_TUNING is set, or when the C library is not glibc. The cost: resident memory
// stays near its peak instead of shrinking after it.
void tuneAllocatorForTensors(char** argv);

// Hands the whole free pages that malloc keeps back to the kernel (glibc malloc_trim, all arenas);
// true when some were. The tuning above keeps freed memory for the next step of one workload; a
// long desktop session runs several (training, attention maps, completions, a model load) on
// different threads, whose peaks and fragments otherwise add up: a one-hour soak grew 246 MiB in
// steps while the memory in use stayed flat. Safe from any thread; costs about a step's page faults.
bool releaseFreedMemory();

}  // namespace attnx
