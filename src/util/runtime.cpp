#include "croma/util/runtime.h"

#include <malloc.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace croma {

torch::Device resolve_device(const std::string& spec, int local_rank) {
  if (spec == "cpu") return torch::Device(torch::kCPU);
  const bool cuda = torch::cuda::is_available();
  if (spec == "auto") {
    if (!cuda) return torch::Device(torch::kCPU);
    const auto count = static_cast<int>(torch::cuda::device_count());
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank % count));
  }
  if (!cuda) {
    throw std::runtime_error("--device " + spec + ": this LibTorch has no CUDA or no GPU is visible "
                             "(use --device cpu or auto)");
  }
  if (spec == "cuda") return torch::Device(torch::kCUDA, 0);
  const int index = std::stoi(spec.substr(5));
  if (index >= static_cast<int>(torch::cuda::device_count())) {
    throw std::runtime_error("--device " + spec + ": only " +
                             std::to_string(torch::cuda::device_count()) + " GPU(s) visible");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

void keep_freed_memory_in_heap() {
  // For side-by-side comparisons under glibc's defaults (analysis/bench/compare.sh).
  if (const char* off = std::getenv("CROMA_GLIBC_MALLOC_DEFAULTS"); off && *off == '1') return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
}

std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const auto path = line.substr(slash);
    const auto base = path.substr(path.rfind('/') + 1);
    if (base.find("blas") != std::string::npos || base.find("mkl_core") != std::string::npos) {
      return path;
    }
  }
  return "unknown";
}

}  // namespace croma
