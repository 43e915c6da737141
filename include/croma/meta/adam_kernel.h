#pragma once
// The element loop of FlatAdam's fused CPU step, in its own translation unit
// (src/meta/adam_kernel.cpp) because it needs a compiler flag of its own: with C's errno
// semantics for sqrt, GCC calls libm's sqrtf once per element instead of using the vector
// square root, which made the loop several times slower than the memory traffic allows.
// CMakeLists.txt builds that file with -fno-math-errno (v >= 0, so sqrt never sets errno).
#include <cstdint>

namespace croma {

struct AdamScalars {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, sqrt_bias2, step_size, eps;
};

// For i < n: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g g;
// p -= step_size * m / (sqrt(v) / sqrt_bias2 + eps). The arrays must not overlap.
// `first`: the first step after a reset, where the moments are zero: m and v are only
// written (m = (1-b1) g, v = (1-b2) g g, exactly what the general step gives from zeros), so
// the reset need not clear them and the step need not read them.
void adam_pass(float* p, const float* g, float* m, float* v, std::int64_t n, const AdamScalars& s,
               bool first = false);

}  // namespace croma
