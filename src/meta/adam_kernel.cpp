// Built with -fno-math-errno and without the precompiled LibTorch headers (CMakeLists.txt).
#include "croma/meta/adam_kernel.h"

#include <cmath>

namespace croma {
namespace {

// One pass, the same arithmetic in the same order as the ATen passes of
// FlatAdam::step_reference(). The clones let GCC use the widest vector unit of the machine
// the binary runs on, chosen once at load time.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void adam_loop(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
               std::int64_t n, AdamScalars s) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = m[i] * s.beta1 + gi * s.one_minus_beta1;
    const float vi = v[i] * s.beta2 + (gi * gi) * s.one_minus_beta2;
    m[i] = mi;
    v[i] = vi;
    p[i] -= s.step_size * (mi / (std::sqrt(vi) / s.sqrt_bias2 + s.eps));
  }
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void adam_first_loop(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
                     std::int64_t n, AdamScalars s) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = gi * s.one_minus_beta1;
    const float vi = (gi * gi) * s.one_minus_beta2;
    m[i] = mi;
    v[i] = vi;
    p[i] -= s.step_size * (mi / (std::sqrt(vi) / s.sqrt_bias2 + s.eps));
  }
}

}  // namespace

void adam_pass(float* p, const float* g, float* m, float* v, std::int64_t n, const AdamScalars& s, bool first) {
  if (first) {
    adam_first_loop(p, g, m, v, n, s);
  } else {
    adam_loop(p, g, m, v, n, s);
  }
}

}  // namespace croma
