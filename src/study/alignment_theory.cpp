#include "croma/study/alignment_theory.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace croma {

std::vector<double> singular_values(std::int64_t d, double condition) {
  std::vector<double> s(static_cast<std::size_t>(d), 1.0);
  if (d <= 1 || condition == 1.0) return s;
  double sum2 = 0.0;
  for (std::int64_t i = 0; i < d; ++i) {
    s[static_cast<std::size_t>(i)] = std::pow(condition, static_cast<double>(i) / static_cast<double>(d - 1));
    sum2 += s[static_cast<std::size_t>(i)] * s[static_cast<std::size_t>(i)];
  }
  const double scale = std::sqrt(static_cast<double>(d) / sum2);
  for (auto& v : s) v *= scale;
  return s;
}

double inverse_gram_trace(std::int64_t d, double condition) {
  double t = 0.0;
  for (double v : singular_values(d, condition)) t += 1.0 / (v * v);
  return t;
}

double least_squares_error(std::int64_t d, std::int64_t n, double sigma2) {
  if (n <= d + 1) {
    throw std::invalid_argument("least squares on " + std::to_string(n) + " samples in dimension " +
                                std::to_string(d) + " has no finite expected error (need n > d + 1)");
  }
  return sigma2 * static_cast<double>(d) / static_cast<double>(n - d - 1);
}

double supervised_error(const AlignmentSetting& s) { return least_squares_error(s.d, s.n2, s.sigma2); }

double source_error(const AlignmentSetting& s) { return least_squares_error(s.d, s.n1, s.sigma2); }

double expected_w1_norm2(const AlignmentSetting& s) {
  return static_cast<double>(s.d) +
         s.sigma2 * inverse_gram_trace(s.d, s.condition) / static_cast<double>(s.n1 - s.d - 1);
}

double cross_modal_error(const AlignmentSetting& s) {
  return source_error(s) + s.sigma_w2 * expected_w1_norm2(s) *
                               least_squares_error(s.d, s.n_align, 1.0);
}

double paper_supervised_error(const AlignmentSetting& s) {
  return static_cast<double>(s.d) * s.sigma2 / static_cast<double>(s.n2);
}

double paper_cross_modal_error(const AlignmentSetting& s) {
  const double d = static_cast<double>(s.d);
  return d * d * s.sigma_w2 / static_cast<double>(s.n_align) + d * s.sigma2 / static_cast<double>(s.n1);
}

double exact_crossover_n_align(const AlignmentSetting& s) {
  const double gap = supervised_error(s) - source_error(s);
  if (gap <= 0.0) return std::numeric_limits<double>::infinity();
  const double d = static_cast<double>(s.d);
  // sigma_w2 E||w1||^2 d / (n - d - 1) < gap
  return d + 1.0 + s.sigma_w2 * expected_w1_norm2(s) * d / gap;
}

double paper_crossover_n_align(const AlignmentSetting& s) {
  const double gap = s.sigma2 / static_cast<double>(s.n2) - s.sigma2 / static_cast<double>(s.n1);
  if (gap <= 0.0) return std::numeric_limits<double>::infinity();
  return static_cast<double>(s.d) * s.sigma_w2 / gap;
}

namespace {
void require_samples(const char* name, std::int64_t n, std::int64_t d) {
  if (n <= d + 1) {
    std::ostringstream msg;
    msg << name << " = " << n << " is too small for d = " << d << " (must be > d + 1 = " << d + 1
        << ": least squares needs more samples than dimensions for a finite expected error)";
    throw std::invalid_argument(msg.str());
  }
}
void require_variance(const char* name, double v) {
  if (!(v >= 0.0) || !std::isfinite(v)) {
    std::ostringstream msg;
    msg << name << " = " << v << " is invalid (a variance must be a finite number >= 0)";
    throw std::invalid_argument(msg.str());
  }
}
}  // namespace

void validate_setting(const AlignmentSetting& s) {
  if (s.d < 1) throw std::invalid_argument("d = " + std::to_string(s.d) + " is invalid (must be >= 1)");
  require_variance("sigma2", s.sigma2);
  require_variance("sigma_w2", s.sigma_w2);
  if (!(s.condition >= 1.0) || !std::isfinite(s.condition)) {
    std::ostringstream msg;
    msg << "condition = " << s.condition << " is invalid (the condition number of W must be >= 1)";
    throw std::invalid_argument(msg.str());
  }
  require_samples("n1", s.n1, s.d);
  require_samples("n2", s.n2, s.d);
  require_samples("n_align", s.n_align, s.d);
}

}  // namespace croma
