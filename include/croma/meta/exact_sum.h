#pragma once
// Exact, order-independent sums of the per-slot contributions of a meta-step (Reptile deltas
// and episode losses), so that every layout of R ranks x T task slots with the same R*T sums
// to bit-identical results.
//
// Float addition is not associative: the same R*T slot deltas summed inside each rank and
// then across ranks round differently for each layout, and training amplifies the
// difference (1e-8 after one meta-step, 1e-2 after forty). Here every contribution is rounded
// ONCE, on its own, to a fixed-point integer q = round(x * 2^frac_bits) (int64, ties to even);
// integers add exactly, so the sum is the same in any order and grouping, MPI_SUM across
// ranks included, and is converted back to floating point once. docs/algorithm.md derives
// the error bound and the choice of frac_bits.
//
// Overflow is excluded, never wrapped: a contribution of magnitude >= limit (or not finite)
// is refused and counted; `limit` is set so that even `terms` contributions just below it
// cannot overflow int64 in any order. The caller sums the refusals across ranks too, so every
// rank learns in the same step that the sum is invalid and stops with the same error.
#include <cstdint>

#include <torch/torch.h>

namespace croma {

struct FixedPoint {
  int frac_bits = 0;
  double limit = 0;  // refuse |x| >= limit
  // For sums of at most `terms` contributions:
  //   limit = min(2^(63 - frac_bits) / terms, 2^(51 - frac_bits))
  // (the second bound keeps every scaled value where the branch-free rounding is exact).
  static FixedPoint for_terms(int frac_bits, std::int64_t terms);
  double to_double(std::int64_t q) const;
};

// Reptile deltas: resolution 2^-40 (~9.1e-13); a delta of magnitude >= 2^-17 (~7.6e-6) is
// converted without any rounding (its float mantissa fits). Range 2048 per delta up to
// R*T = 4096 slots, 2^23 / (R*T) beyond.
constexpr int kDeltaFracBits = 40;
// Episode losses (means over inner steps, doubles): resolution 2^-28 (~3.7e-9), range 2^23
// (~8.4e6) up to R*T = 4096 slots.
constexpr int kLossFracBits = 28;

// sums[i] += round((a[i] - b[i]) * 2^fp.frac_bits) for i in [0, n), where a[i] - b[i] is the
// float difference. Returns how many differences were refused (not finite, or >= fp.limit in
// magnitude); those add nothing.
std::int64_t add_fixed_differences(const float* a, const float* b, std::int64_t n, const FixedPoint& fp,
                                   std::int64_t* sums);
// The same with sums[i] = instead of += (refused: 0), for the first contribution to a range:
// it spares the pass that zeroes the int64 buffer and the read of it (the buffer is twice
// the parameters' size, and this is memory-bound).
std::int64_t store_fixed_differences(const float* a, const float* b, std::int64_t n, const FixedPoint& fp,
                                     std::int64_t* sums);

// sum += round(x * 2^fp.frac_bits); false (and sum unchanged) when x is refused.
bool add_fixed(double x, const FixedPoint& fp, std::int64_t& sum);

// The tensor form, for any device and without a host synchronisation: sums += round(x *
// 2^fp.frac_bits) elementwise where |x| < fp.limit, and the count of the others added to
// `refused`. x: float64; sums: int64 of x's shape; refused: one int64 element; all on one
// device. The same integers as the pointer forms (multiplying by 2^frac_bits is exact and
// round() rounds half to even).
void add_fixed(const torch::Tensor& x, const FixedPoint& fp, torch::Tensor sums, torch::Tensor refused);

// float(q * scale), scale = 2^-frac_bits: double(hi * 2^32 + lo) with both 32-bit halves
// exact in double and one rounding of their sum is double(q), correctly rounded, for every
// int64 (unlike the int64 conversion it vectorises without AVX-512DQ); then one rounding to
// float. Inline, so that the loops calling it (fixed_to_float, the Reptile step of
// meta/reptile.h) stay vectorised and convert the same way.
inline float fixed_to_float(std::int64_t q, double scale) {
  const auto hi = static_cast<std::int32_t>(q >> 32);
  const auto lo = static_cast<std::uint32_t>(q & 0xffffffff);
  return static_cast<float>((static_cast<double>(hi) * 4294967296.0 + static_cast<double>(lo)) * scale);
}

// out[i] = float(sums[i] * 2^-frac_bits): one rounding, the same on every rank.
void fixed_to_float(const std::int64_t* sums, std::int64_t n, int frac_bits, float* out);

}  // namespace croma
