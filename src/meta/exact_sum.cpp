#include "croma/meta/exact_sum.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace croma {

namespace {

// 1.5 * 2^52: adding it to a double of magnitude below 2^51 leaves that value rounded to an
// integer (ties to even, the default rounding) in the low mantissa bits, so that the
// integer is the difference of the two bit patterns. Exact, branch-free and vectorisable,
// unlike llrint (a libm call with errno semantics, much slower in a loop).
constexpr double kRoundMagic = 6755399441055744.0;

std::int64_t bits_of(double x) {
  std::int64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

}  // namespace

FixedPoint FixedPoint::for_terms(int frac_bits, std::int64_t terms) {
  if (frac_bits < 0 || frac_bits > 51 || terms < 1) {
    throw std::invalid_argument("FixedPoint::for_terms: frac_bits " + std::to_string(frac_bits) + ", terms " +
                                std::to_string(terms));
  }
  // terms values each below 2^(63 - frac_bits) / terms in magnitude scale to below
  // 2^63 / terms each, so every partial sum stays below 2^63 whatever the order; and each
  // scaled value below 2^51 keeps the rounding of add_fixed_differences exact.
  return {frac_bits, std::min(std::ldexp(1.0, 63 - frac_bits) / static_cast<double>(terms),
                              std::ldexp(1.0, 51 - frac_bits))};
}

double FixedPoint::to_double(std::int64_t q) const { return std::ldexp(static_cast<double>(q), -frac_bits); }

// The clones give identical results: every operation is exact or one IEEE rounding (d * scale
// is a power-of-two scaling, so contracting it into an FMA changes nothing).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
std::int64_t add_fixed_differences(const float* __restrict a, const float* __restrict b, std::int64_t n,
                                   const FixedPoint& fp, std::int64_t* __restrict sums) {
  const double scale = std::ldexp(1.0, fp.frac_bits);
  const double limit = fp.limit;
  const std::int64_t magic = bits_of(kRoundMagic);
  std::int64_t refused = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i] - b[i]);  // the float difference, then exact
    const bool ok = std::fabs(d) < limit;                // false for NaN
    const std::int64_t q = bits_of(d * scale + kRoundMagic) - magic;
    sums[i] += ok ? q : 0;
    refused += ok ? 0 : 1;
  }
  return refused;
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
std::int64_t store_fixed_differences(const float* __restrict a, const float* __restrict b, std::int64_t n,
                                     const FixedPoint& fp, std::int64_t* __restrict sums) {
  const double scale = std::ldexp(1.0, fp.frac_bits);
  const double limit = fp.limit;
  const std::int64_t magic = bits_of(kRoundMagic);
  std::int64_t refused = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i] - b[i]);
    const bool ok = std::fabs(d) < limit;
    const std::int64_t q = bits_of(d * scale + kRoundMagic) - magic;
    sums[i] = ok ? q : 0;
    refused += ok ? 0 : 1;
  }
  return refused;
}

bool add_fixed(double x, const FixedPoint& fp, std::int64_t& sum) {
  if (!(std::fabs(x) < fp.limit)) return false;
  sum += bits_of(std::ldexp(x, fp.frac_bits) + kRoundMagic) - bits_of(kRoundMagic);
  return true;
}

void add_fixed(const torch::Tensor& x, const FixedPoint& fp, torch::Tensor sums, torch::Tensor refused) {
  if (x.scalar_type() != torch::kFloat64 || sums.scalar_type() != torch::kInt64 || sums.sizes() != x.sizes() ||
      refused.scalar_type() != torch::kInt64 || refused.numel() != 1) {
    throw std::invalid_argument("add_fixed: needs float64 values, int64 sums of their shape and one int64 count");
  }
  at::NoGradGuard no_grad;
  const auto ok = x.abs() < fp.limit;  // false for NaN
  const auto q = torch::where(ok, (x * std::ldexp(1.0, fp.frac_bits)).round(), torch::zeros({}, x.options()));
  sums.add_(q.to(torch::kInt64));
  refused.add_(ok.logical_not().sum().reshape(refused.sizes()));
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void fixed_to_float(const std::int64_t* __restrict sums, std::int64_t n, int frac_bits, float* __restrict out) {
  const double scale = std::ldexp(1.0, -frac_bits);
  for (std::int64_t i = 0; i < n; ++i) out[i] = fixed_to_float(sums[i], scale);
}

}  // namespace croma
