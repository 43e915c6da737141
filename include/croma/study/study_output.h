#pragma once
// The study's result files, written with tmp + rename so that nothing is ever half-written:
//   study.csv   one row per cell: grid values, seed and trials, mean/std/sem of every error,
//               the exact theory and the paper's large-n forms
//   study.h5    the same columns as 1-D datasets under /cells (h5py: f["cells/cross_mean"])
//   weak.csv    (when the weak-alignment study ran) one row per (N, S, estimator)
#include <vector>

#include "croma/io/column_table.h"
#include "croma/study/alignment_study.h"
#include "croma/study/weak_alignment.h"

namespace croma {

// The study table as named columns, for the writers of io/column_table.h.
std::vector<Column> study_columns(const std::vector<CellResult>& cells);
// The weak-alignment table (weak.csv) as named columns.
std::vector<Column> weak_columns(const std::vector<WeakCell>& cells);

}  // namespace croma
