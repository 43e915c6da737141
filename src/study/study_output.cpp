#include "croma/study/study_output.h"

#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "croma/io/run_directory.h"

namespace croma {

std::vector<Column> study_columns(const std::vector<CellResult>& cells) {
  std::vector<Column> cols;
  auto add = [&](const std::string& name, auto get) {
    Column c{name, {}};
    for (const auto& r : cells) c.values.push_back(static_cast<double>(get(r)));
    cols.push_back(std::move(c));
  };
  add("sigma_w2", [](const CellResult& r) { return r.setting.sigma_w2; });
  add("n_align", [](const CellResult& r) { return r.setting.n_align; });
  add("d", [](const CellResult& r) { return r.setting.d; });
  add("sigma2", [](const CellResult& r) { return r.setting.sigma2; });
  add("n1", [](const CellResult& r) { return r.setting.n1; });
  add("n2", [](const CellResult& r) { return r.setting.n2; });
  add("condition", [](const CellResult& r) { return r.setting.condition; });
  add("seed", [](const CellResult& r) { return r.seed; });
  add("trials", [](const CellResult& r) { return r.trials; });
  struct Part {
    const char* name;
    ErrorStats CellResult::*stats;
    double CellResult::*theory;
  };
  const Part parts[] = {{"supervised", &CellResult::supervised, &CellResult::theory_supervised},
                        {"source", &CellResult::source, &CellResult::theory_source},
                        {"cross", &CellResult::cross, &CellResult::theory_cross}};
  for (const auto& part : parts) {
    const std::string n = part.name;
    add(n + "_mean", [&](const CellResult& r) { return (r.*part.stats).mean; });
    add(n + "_std", [&](const CellResult& r) { return (r.*part.stats).std; });
    add(n + "_sem", [&](const CellResult& r) { return (r.*part.stats).sem; });
    add(n + "_theory", [&](const CellResult& r) { return r.*part.theory; });
    add(n + "_z", [&](const CellResult& r) {
      const auto& s = r.*part.stats;
      return s.sem > 0 ? (s.mean - r.*part.theory) / s.sem : 0.0;
    });
  }
  add("paper_supervised", [](const CellResult& r) { return r.paper_supervised; });
  add("paper_cross", [](const CellResult& r) { return r.paper_cross; });
  return cols;
}

void write_csv_atomically(const std::filesystem::path& path, const std::vector<Column>& columns) {
  std::ostringstream out;
  out << std::setprecision(10);
  for (std::size_t k = 0; k < columns.size(); ++k) out << (k ? "," : "") << columns[k].name;
  out << "\n";
  const std::size_t rows = columns.empty() ? 0 : columns[0].values.size();
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t k = 0; k < columns.size(); ++k) {
      const double v = columns[k].values[i];
      out << (k ? "," : "");
      if (std::isnan(v)) out << "nan"; else out << v;
    }
    out << "\n";
  }
  write_text_atomically(path, out.str());
}

namespace {
struct H5Closer {
  hid_t id;
  herr_t (*close)(hid_t);
  ~H5Closer() {
    if (id >= 0) close(id);
  }
};
}  // namespace

void write_hdf5_columns_atomically(const std::filesystem::path& path, const std::string& group,
                                   const std::vector<Column>& columns, const std::string& note) {
  const std::string tmp = path.string() + ".tmp";
  auto fail = [&](const std::string& what) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write '" + path.string() + "': " + what);
  };
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  {
    H5Closer file{H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose};
    if (file.id < 0) fail("cannot create '" + tmp + "' (is the directory writable?)");
    H5Closer grp{H5Gcreate2(file.id, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
    if (grp.id < 0) fail("cannot create group " + group);
    for (const auto& c : columns) {
      const hsize_t n = c.values.size();
      H5Closer space{H5Screate_simple(1, &n, nullptr), H5Sclose};
      H5Closer set{H5Dcreate2(grp.id, c.name.c_str(), H5T_IEEE_F64LE, space.id, H5P_DEFAULT,
                              H5P_DEFAULT, H5P_DEFAULT),
                   H5Dclose};
      if (set.id < 0 ||
          (n > 0 && H5Dwrite(set.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, c.values.data()) < 0)) {
        fail("cannot write dataset " + c.name + " (disk full?)");
      }
    }
    H5Closer type{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(type.id, note.size() + 1);
    H5Closer scalar{H5Screate(H5S_SCALAR), H5Sclose};
    H5Closer attr{H5Acreate2(file.id, "summary", type.id, scalar.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
    if (attr.id < 0 || H5Awrite(attr.id, type.id, note.c_str()) < 0) fail("cannot write attribute");
    if (H5Fflush(file.id, H5F_SCOPE_GLOBAL) < 0) fail("cannot flush (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(ec.message());
}

}  // namespace croma
