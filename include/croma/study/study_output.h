#pragma once
// The study's result files, written with tmp + rename so that nothing is ever half-written:
//   study.csv   one row per cell: grid values, seed and trials, mean/std/sem of every error,
//               the exact theory and the paper's large-n forms
//   study.h5    the same columns as 1-D datasets under /cells (h5py: f["cells/cross_mean"])
//   weak.csv    (when the weak-alignment study ran) one row per (N, S, estimator)
#include <filesystem>
#include <string>
#include <vector>

#include "croma/study/alignment_study.h"

namespace croma {

struct Column {
  std::string name;
  std::vector<double> values;
};

// The study table as named columns (shared by the CSV and the HDF5 writers).
std::vector<Column> study_columns(const std::vector<CellResult>& cells);

void write_csv_atomically(const std::filesystem::path& path, const std::vector<Column>& columns);
void write_hdf5_columns_atomically(const std::filesystem::path& path, const std::string& group,
                                   const std::vector<Column>& columns, const std::string& note);

}  // namespace croma
