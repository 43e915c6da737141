#pragma once
// Exact expected errors of the alignment-versus-supervision model of the paper's §5.5.
//
// Model (row vectors for teachers and predictors): target inputs x2 ~ N(0, I_d), source inputs
// x1 = W x2, teachers u1 ~ N(0, I_d) and u2 = u1 W, labels y = u.x + eps with eps ~ N(0, sigma2);
// alignment pairs x1 = W x2 + eta, eta ~ N(0, sigma_w2 I). Every fit is ordinary least squares.
//
// For least squares on n Gaussian rows x ~ N(0, I), w - u = (X'X)^-1 X'eps, so
// E||w - u||^2 = sigma2 E tr (X'X)^-1 = sigma2 d / (n - d - 1) (the mean of an inverse Wishart).
//   supervised (target error)     : sigma2 d / (n2 - d - 1)
//   source fit, in target space   : ||(w1 - u1) W||^2 = E_x2[((w1 - u1) W x2)^2] has the same
//                                   law as a plain fit on n1 rows, whatever W: sigma2 d/(n1-d-1)
//   alignment  W^ - W = H' Xa (Xa'Xa)^-1, so w1 W^ - u2 = (w1 - u1) W + w1 (W^ - W); the two
//                                   parts are uncorrelated and E||w1 (W^ - W)||^2 =
//                                   sigma_w2 E||w1||^2 d / (n_align - d - 1),
//   with E||w1||^2 = E||u1||^2 + sigma2 tr((W'W)^-1) / (n1 - d - 1) and E||u1||^2 = d.
// The paper's d^2 sigma_w2 / n_align + d sigma2 / n1 is the large-n form of the same sum.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace croma {

struct AlignmentSetting {
  std::int64_t d = 20;
  double sigma2 = 1.0;         // label noise variance
  double sigma_w2 = 0.0;       // alignment-pair noise variance (0: strong alignment)
  std::int64_t n1 = 250;       // labelled source samples
  std::int64_t n2 = 40;        // labelled target samples
  std::int64_t n_align = 1000; // alignment pairs
  double condition = 1.0;      // condition number of W (1: orthogonal W)
};

// Singular values of W for a condition number: geometric from 1 to condition, scaled so that
// their squares sum to d (the orthogonal case has all ones). Returned in increasing order.
std::vector<double> singular_values(std::int64_t d, double condition);
// tr((W'W)^-1) for those singular values (d for an orthogonal W).
double inverse_gram_trace(std::int64_t d, double condition);

// E||w - u||^2 for least squares on n rows of N(0, I_d) with noise variance sigma2; needs n > d + 1.
double least_squares_error(std::int64_t d, std::int64_t n, double sigma2);

double supervised_error(const AlignmentSetting& s);
double source_error(const AlignmentSetting& s);
double expected_w1_norm2(const AlignmentSetting& s);
double cross_modal_error(const AlignmentSetting& s);

// The paper's large-n forms: d sigma2 / n2 and d^2 sigma_w2 / n_align + d sigma2 / n1.
double paper_supervised_error(const AlignmentSetting& s);
double paper_cross_modal_error(const AlignmentSetting& s);

// Smallest real n_align at which cross-modal beats supervised: exactly, and by the paper's rule
// d sigma_w2 / n_align + sigma2 / n1 < sigma2 / n2. +infinity when alignment can never win
// (the source-limited error is not below the supervised one); d + 1 (exact) or 0 (rule)
// when sigma_w2 = 0 and alignment wins at any valid n_align.
double exact_crossover_n_align(const AlignmentSetting& s);
double paper_crossover_n_align(const AlignmentSetting& s);

// Throws std::invalid_argument naming the offending quantity (n <= d + 1, negative or
// non-finite variances, condition < 1, d < 1).
void validate_setting(const AlignmentSetting& s);

}  // namespace croma
