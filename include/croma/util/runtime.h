#pragma once
// Process-level facts and settings: device choice, allocator tuning, which BLAS is loaded.
#include <string>

namespace croma {

// "auto" picks cuda:<local_rank mod device count> when LibTorch has CUDA and a GPU is
// visible, else the CPU. An explicit cuda device without CUDA is an error.
torch::Device resolve_device(const std::string& spec, int local_rank);

// Keep freed memory in the heap instead of returning it to the OS after every step (glibc
// otherwise unmaps and re-faults small training loops' tensors; ~3x slower, see docs).
void keep_freed_memory_in_heap();

// Path of the BLAS library mapped into this process (e.g. .../openblas-pthread/libblas.so.3),
// or "unknown".
std::string loaded_blas();

}  // namespace croma
