#pragma once
// Draws for the study's sufficient-statistics route.
//
// A least-squares fit on n rows x ~ N(0, I_d) depends on the data only through A = X'X and
// X'eps. A is Wishart(n, I_d); by the Bartlett decomposition A = L L' with L lower triangular,
// L_ii = sqrt(chi2 with n - i + 1 degrees of freedom) (i = 1..d), L_ij ~ N(0, 1) below the
// diagonal. Given A, X'eps ~ N(0, sigma2 A) = sigma L z with z ~ N(0, I_d), so the fit's error
// A^-1 X'eps = sigma L'^-1 z costs one triangular solve: O(d^2) per fit whatever n is.
#include <cstdint>

#include "croma/util/rng.h"

namespace croma {

// Fills out[0..count) with independent standard normals (Box-Muller, both values used).
void fill_normal(Rng& rng, double* out, std::int64_t count);
// Gamma(shape, 1) for shape >= 1 (Marsaglia-Tsang squeeze), and chi-square with k >= 2 dof.
double gamma_variate(Rng& rng, double shape);
double chi_square(Rng& rng, double dof);
// Bartlett factor of Wishart(n, I_d) into out (row-major d x d, zeros above the diagonal).
// Needs n >= d + 1 so that every diagonal chi-square has >= 2 degrees of freedom.
void bartlett_factor(Rng& rng, std::int64_t d, std::int64_t n, double* out);

}  // namespace croma
