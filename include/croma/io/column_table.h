#pragma once
// A table of named columns of numbers, written with tmp + rename so that no reader ever sees
// half of it: as CSV (a header line, then one row per index; NaN as "nan") or as HDF5 (one
// 1-D float64 dataset per column under one group, and a string attribute "summary" on the
// root). croma study writes its results this way (study/study_output.h).
#include <filesystem>
#include <string>
#include <vector>

namespace croma {

struct Column {
  std::string name;
  std::vector<double> values;
};

void write_csv_atomically(const std::filesystem::path& path, const std::vector<Column>& columns);
void write_hdf5_columns_atomically(const std::filesystem::path& path, const std::string& group,
                                   const std::vector<Column>& columns, const std::string& note);

}  // namespace croma
