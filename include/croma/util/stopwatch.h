#pragma once
// Lap timer for the per-phase breakdown `croma bench` prints: each lap() adds the time since
// the previous lap (or construction) to one accumulator.
#include <chrono>

namespace croma {

class Stopwatch {
 public:
  void lap(double& into) {
    const auto now = std::chrono::steady_clock::now();
    into += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace croma
