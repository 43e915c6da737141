// Is the fused inner Adam pass bound by memory or by its arithmetic? Times croma's own element
// loop (src/meta/adam_kernel.cpp, built with the flags CMakeLists.txt gives it) over ranges
// from one that fits in the L1 cache to one far beyond the L2, hot (the same buffers over and
// over). If the time per element is the same at every size, the pass is bound by its square
// root and division, not by the 28 bytes per element it moves, and keeping the operands in
// cache (fusing Adam into the backward pass, layer by layer) cannot make it faster.
// Prints one line per size: elements, median ns per element over 41 repetitions, and the
// bandwidth that time would imply at 28 B per element.
//
//   g++ -O3 -fno-math-errno -Iinclude -o /tmp/adam_bound analysis/bench/adam_bound.cpp src/meta/adam_kernel.cpp
//   /tmp/adam_bound 4096 65536 363013 4000000
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "croma/meta/adam_kernel.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: adam_bound N [N...]  (element counts)\n");
    return 2;
  }
  // lr 1e-3 after 5 steps with the default betas: the values do not change the work.
  const croma::AdamScalars s{0.9f, 0.1f, 0.999f, 0.001f, 0.0706f, 2.4e-3f, 1e-8f};
  for (int a = 1; a < argc; ++a) {
    const long n = std::strtol(argv[a], nullptr, 10);
    if (n < 1) {
      std::fprintf(stderr, "adam_bound: '%s' is not a positive element count\n", argv[a]);
      return 2;
    }
    std::vector<float> p(n, 1.0f), g(n, 1e-2f), m(n, 0.0f), v(n, 1e-4f);
    const long reps = std::max(1L, 4000000L / n);  // about 4M elements per timing
    std::vector<double> ns;
    for (int r = 0; r < 41; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      for (long k = 0; k < reps; ++k) croma::adam_pass(p.data(), g.data(), m.data(), v.data(), n, s);
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ns.push_back(sec * 1e9 / static_cast<double>(reps * n));
    }
    std::nth_element(ns.begin(), ns.begin() + 20, ns.end());
    std::printf("%ld elements: %.3f ns per element (%.1f GB/s at 28 B)\n", n, ns[20], 28.0 / ns[20]);
  }
  return 0;
}
