#pragma once
// Symmetric label noise (paper §5.4): each label is, independently with probability p,
// replaced by a label drawn uniformly from the other num_classes - 1 classes. A flipped
// label therefore never equals the true one, and the expected flip rate is exactly p.
#include <cstdint>
#include <vector>

#include "croma/util/rng.h"

namespace croma {

// Labels must lie in [0, num_classes); p in [0, 1); num_classes >= 2 when p > 0.
std::vector<std::int64_t> symmetric_label_noise(const std::vector<std::int64_t>& labels,
                                                std::int64_t num_classes, double p, Rng& rng);

}  // namespace croma
