#include "croma/study/wishart.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace croma {

void fill_normal(Rng& rng, double* out, std::int64_t count) {
  std::int64_t i = 0;
  while (i < count) {
    double u1 = rng.uniform();
    while (u1 <= 0.0) u1 = rng.uniform();
    const double u2 = rng.uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double a = 2.0 * M_PI * u2;
    out[i++] = r * std::cos(a);
    if (i < count) out[i++] = r * std::sin(a);
  }
}

double gamma_variate(Rng& rng, double shape) {
  if (!(shape >= 1.0)) {
    throw std::invalid_argument("gamma_variate: shape must be >= 1, got " + std::to_string(shape));
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = 0.0, v = 0.0;
    do {
      fill_normal(rng, &x, 1);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = rng.uniform();
    const double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v;
    if (u > 0.0 && std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double chi_square(Rng& rng, double dof) { return 2.0 * gamma_variate(rng, 0.5 * dof); }

void bartlett_factor(Rng& rng, std::int64_t d, std::int64_t n, double* out) {
  if (n < d + 1) {
    throw std::invalid_argument("bartlett_factor: need n >= d + 1, got n=" + std::to_string(n) +
                                " d=" + std::to_string(d));
  }
  for (std::int64_t i = 0; i < d; ++i) {
    double* row = out + i * d;
    fill_normal(rng, row, i);  // below the diagonal
    row[i] = std::sqrt(chi_square(rng, static_cast<double>(n - i)));
    for (std::int64_t j = i + 1; j < d; ++j) row[j] = 0.0;
  }
}

}  // namespace croma
