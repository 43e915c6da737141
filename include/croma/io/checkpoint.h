#pragma once
// Checkpoints of the meta-parameters as HDF5, one dataset per tensor, readable with h5py
// (`f["e_t/layer0/weight"][...]`) and h5dump.
//
// Layout (format "croma-checkpoint", version 1):
//   /                      attributes: format, format_version, step, config (JSON text)
//   /<module>/layer<L>/weight   float32 [out, in]
//   /<module>/layer<L>/bias     float32 [out]
// where <module> is e_s, e_t or phi. Files are written to "<path>.tmp" and renamed, so a
// reader never sees a half-written checkpoint.
#include <cstdint>
#include <string>

#include "croma/model/param_layout.h"

namespace croma {

struct Checkpoint {
  torch::Tensor parameters;  // flat, CPU float32, in layout order
  std::int64_t step = 0;
  std::string config_json;
};

void write_checkpoint(const std::string& path, const ParamLayout& layout, const Checkpoint& checkpoint);

// Throws std::runtime_error naming the file and the problem (not HDF5, wrong format, missing
// or mis-shaped tensor, non-finite values).
Checkpoint read_checkpoint(const std::string& path, const ParamLayout& layout);

}  // namespace croma
