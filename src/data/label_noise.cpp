#include "croma/data/label_noise.h"

#include <stdexcept>
#include <string>

namespace croma {

std::vector<std::int64_t> symmetric_label_noise(const std::vector<std::int64_t>& labels,
                                                std::int64_t num_classes, double p, Rng& rng) {
  if (!(p >= 0.0 && p < 1.0)) {
    throw std::invalid_argument("label noise rate must be in [0, 1), got " + std::to_string(p));
  }
  if (p == 0.0) return labels;  // and draws nothing: p = 0 leaves every stream untouched
  if (num_classes < 2) throw std::invalid_argument("label noise needs at least two classes");
  std::vector<std::int64_t> noisy = labels;
  for (auto& label : noisy) {
    if (label < 0 || label >= num_classes) {
      throw std::invalid_argument("label " + std::to_string(label) + " outside [0, " +
                                  std::to_string(num_classes) + ")");
    }
    if (rng.uniform() < p) {
      // Uniform over the other classes: draw from num_classes - 1 and skip the true label.
      auto other = static_cast<std::int64_t>(rng.uniform_index(static_cast<std::uint64_t>(num_classes - 1)));
      label = other >= label ? other + 1 : other;
    }
  }
  return noisy;
}

}  // namespace croma
