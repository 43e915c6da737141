#include "croma/io/hdf5_util.h"

#include <cstdlib>

namespace croma::hdf5 {

SilenceErrors::SilenceErrors() {
  H5Eget_auto2(H5E_DEFAULT, &func, &data);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

SilenceErrors::~SilenceErrors() { H5Eset_auto2(H5E_DEFAULT, func, data); }

bool exists(hid_t file, const std::string& path) {
  // H5Lexists fails (rather than returning 0) when an intermediate group is missing, so
  // walk the path one component at a time.
  std::size_t pos = 0;
  while (true) {
    pos = path.find('/', pos + 1);
    const auto prefix = path.substr(0, pos);
    if (!prefix.empty() && prefix != "/" && H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) {
      return false;
    }
    if (pos == std::string::npos) return true;
  }
}

bool read_string_attribute(hid_t object, const char* name, std::string& out) {
  if (H5Aexists(object, name) <= 0) return false;
  Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  if (!attr.ok() || H5Tget_class(type.get()) != H5T_STRING) return false;
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    char* text = nullptr;
    const bool read = H5Aread(attr.get(), mem.get(), &text) >= 0;
    if (read) out = text ? text : "";
    H5free_memory(text);  // also after a failed read, which may have allocated it
    return read;
  }
  const auto size = H5Tget_size(type.get());
  std::string buffer(size, '\0');
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), size);
  if (H5Aread(attr.get(), mem.get(), buffer.data()) < 0) return false;
  out = buffer.substr(0, buffer.find('\0'));
  return true;
}

bool read_int_attribute(hid_t object, const char* name, std::int64_t& out) {
  if (H5Aexists(object, name) <= 0) return false;
  Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  if (!attr.ok() || H5Tget_class(type.get()) != H5T_INTEGER) return false;
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) return false;
  return H5Aread(attr.get(), H5T_NATIVE_INT64, &out) >= 0;
}

std::vector<hsize_t> dataset_shape(hid_t dataset) {
  Handle space(H5Dget_space(dataset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank > 0 ? rank : 0));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

H5T_class_t dataset_type_class(hid_t dataset) {
  Handle type(H5Dget_type(dataset), H5Tclose);
  return H5Tget_class(type.get());
}

std::size_t dataset_type_size(hid_t dataset) {
  Handle type(H5Dget_type(dataset), H5Tclose);
  return H5Tget_size(type.get());
}

bool read_strings(hid_t dataset, std::vector<std::string>& out) {
  Handle type(H5Dget_type(dataset), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING) return false;
  const auto shape = dataset_shape(dataset);
  if (shape.size() != 1) return false;
  const auto n = static_cast<std::size_t>(shape[0]);
  out.assign(n, std::string());
  if (n == 0) return true;
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  if (H5Tis_variable_str(type.get()) > 0) {
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    std::vector<char*> ptrs(n, nullptr);
    // A read that fails part way (a corrupt heap) has still allocated the strings before the
    // failure: free every pointer it set either way.
    const bool read = H5Dread(dataset, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) >= 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (read) out[i] = ptrs[i] ? ptrs[i] : "";
      H5free_memory(ptrs[i]);
    }
    return read;
  }
  const auto size = H5Tget_size(type.get());
  H5Tset_size(mem.get(), size);
  std::vector<char> buffer(n * size);
  if (H5Dread(dataset, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0) return false;
  for (std::size_t i = 0; i < n; ++i) {
    std::string s(buffer.data() + i * size, size);
    out[i] = s.substr(0, s.find('\0'));
  }
  return true;
}

void skip_cleanup_at_exit() { H5dont_atexit(); }

}  // namespace croma::hdf5
