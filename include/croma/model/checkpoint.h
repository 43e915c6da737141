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
//
// Checkpoints that `croma train` can resume from (step_N, final) also hold its training state:
//   /train_state           attributes: world_size, tasks_per_rank, bookkeeping (JSON text:
//                          best validation accuracy and step, episodes, ...)
//   /train_state/rng/rank<r>/slot<t>   the episode stream of task slot t of rank r, as the
//                          text of its engine state (uint8 bytes; Rng::state())
// Rank 0 gathers every rank's streams and writes the one file, so a checkpoint is one atomic
// file however many ranks wrote it. Readers that only want parameters ignore the group.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "croma/model/param_layout.h"

namespace croma {

// What a run needs beyond the meta-parameters to continue exactly where it stopped.
struct TrainingState {
  std::int64_t world_size = 1;
  std::int64_t tasks_per_rank = 1;
  std::vector<std::string> rng_states;  // world_size * tasks_per_rank, index rank * T + slot
  std::string bookkeeping_json = "{}";
};

struct Checkpoint {
  torch::Tensor parameters;  // flat, CPU float32, in layout order
  std::int64_t step = 0;
  std::string config_json;
  std::optional<TrainingState> state;  // present in checkpoints a run can resume from
};

void write_checkpoint(const std::string& path, const ParamLayout& layout, const Checkpoint& checkpoint);

// Throws std::runtime_error naming the file and the problem (not HDF5, wrong format, missing
// or mis-shaped tensor, non-finite values).
Checkpoint read_checkpoint(const std::string& path, const ParamLayout& layout);

// The config attribute alone (JSON text; empty when absent), before the model shape is known:
// `croma eval` takes the run's feature standardisation from the checkpoint it evaluates.
// Throws like read_checkpoint when the file is no croma checkpoint.
std::string read_checkpoint_config(const std::string& path);

}  // namespace croma
