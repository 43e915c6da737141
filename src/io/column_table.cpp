#include "croma/io/column_table.h"

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "croma/io/hdf5_util.h"
#include "croma/io/run_directory.h"

namespace croma {

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

void write_hdf5_columns_atomically(const std::filesystem::path& path, const std::string& group,
                                   const std::vector<Column>& columns, const std::string& note) {
  const std::string tmp = path.string() + ".tmp";
  auto fail = [&](const std::string& what) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write '" + path.string() + "': " + what);
  };
  hdf5::SilenceErrors quiet;  // one error line of croma's, not HDF5's stack
  {
    hdf5::Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!file.ok()) fail("cannot create '" + tmp + "' (is the directory writable?)");
    hdf5::Handle grp(H5Gcreate2(file.get(), group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!grp.ok()) fail("cannot create group " + group);
    for (const auto& c : columns) {
      const hsize_t n = c.values.size();
      hdf5::Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
      hdf5::Handle set(H5Dcreate2(grp.get(), c.name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT),
                       H5Dclose);
      if (!set.ok() ||
          (n > 0 && H5Dwrite(set.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, c.values.data()) < 0)) {
        fail("cannot write dataset " + c.name + " (disk full?)");
      }
    }
    hdf5::Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), note.size() + 1);
    hdf5::Handle scalar(H5Screate(H5S_SCALAR), H5Sclose);
    hdf5::Handle attr(H5Acreate2(file.get(), "summary", type.get(), scalar.get(), H5P_DEFAULT, H5P_DEFAULT),
                      H5Aclose);
    if (!attr.ok() || H5Awrite(attr.get(), type.get(), note.c_str()) < 0) fail("cannot write attribute");
    if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) fail("cannot flush (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(ec.message());
}

}  // namespace croma
