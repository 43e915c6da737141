#pragma once

namespace croma {

// Wall time spent in each part of meta-training since construction (CPU clock; on a GPU
// the kernels run asynchronously and the split is only indicative).
struct PhaseTimings {
  double sampling = 0;         // drawing episodes and gathering their features
  double forward_backward = 0; // inner-loop losses and gradients
  double optimizer = 0;        // inner Adam updates
  double reptile = 0;          // fast-weight copies, deltas, meta-update
  double allreduce = 0;        // the collective, with its host copies
};

}  // namespace croma
