#pragma once
// The device that the gpu-labelled tests (ctest -L gpu) compare with the CPU.
//
// CROMA_TEST_DEVICE names it: cuda (the default), cuda:N, or cpu. "cpu" is the rehearsal of
// analysis/bench/gpu_check.sh on a machine without a GPU: the same tests then compare the
// CPU with itself through the GPU's code path (the autograd inner loop), so that everything
// but the GPU itself runs. Without CUDA and without CROMA_TEST_DEVICE=cpu they skip.
#include <cstdlib>
#include <optional>
#include <string>

#include <torch/cuda.h>
#include <torch/types.h>

namespace croma::testing {

// The device under test, or nullopt with `why_not` set when it is not available here.
inline std::optional<torch::Device> device_under_test(std::string& why_not) {
  const char* env = std::getenv("CROMA_TEST_DEVICE");
  const std::string spec = env && *env ? env : "cuda";
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec.rfind("cuda", 0) != 0) {
    why_not = "CROMA_TEST_DEVICE=" + spec + " is neither cuda, cuda:N nor cpu";
    return std::nullopt;
  }
  if (!torch::cuda::is_available()) {
    why_not = "no CUDA device (this LibTorch has no CUDA or no GPU is visible); "
              "CROMA_TEST_DEVICE=cpu rehearses these tests on the CPU";
    return std::nullopt;
  }
  return torch::Device(spec);
}

}  // namespace croma::testing

// Skips the test, with the reason, where the device under test is not available.
#define CROMA_DEVICE_UNDER_TEST(var)                                \
  std::string var##_why_not;                                        \
  const auto var##_opt = ::croma::testing::device_under_test(var##_why_not); \
  if (!var##_opt) GTEST_SKIP() << var##_why_not;                    \
  const torch::Device var = *var##_opt
