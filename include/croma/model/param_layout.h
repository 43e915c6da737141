#pragma once
// Named tensors laid out back to back in one flat float buffer.
//
// croma keeps all parameters of a model in a single contiguous 1-D tensor and reads layers
// as views into it. A Reptile delta, the meta-update, the MPI allreduce, the cross-rank
// checksum, a checkpoint and the inner optimizer then each touch one buffer, and a fast
// weight copy is one memcpy that cannot alias the meta-weights.
#include <cstdint>
#include <string>
#include <vector>

namespace croma {

struct ParamEntry {
  std::string name;               // e.g. "e_s/layer0/weight"
  std::vector<std::int64_t> shape;
  std::int64_t offset = 0;
  std::int64_t numel = 0;
};

// Half-open range [begin, end) of a flat buffer.
struct ParamRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t size() const { return end - begin; }
};

class ParamLayout {
 public:
  // Appends an entry; returns its index.
  std::size_t add(const std::string& name, std::vector<std::int64_t> shape);
  const std::vector<ParamEntry>& entries() const { return entries_; }
  const ParamEntry& entry(std::size_t i) const { return entries_.at(i); }
  std::int64_t numel() const { return numel_; }
  // View of entry i inside `flat` (shares storage, keeps autograd history).
  torch::Tensor view(const torch::Tensor& flat, std::size_t i) const;

 private:
  std::vector<ParamEntry> entries_;
  std::int64_t numel_ = 0;
};

// One Linear layer inside a flat buffer: weight [out, in] at weight_offset, bias [out].
struct DenseLayer {
  std::int64_t weight_offset = 0, bias_offset = 0, in = 0, out = 0;
};

// Where each layer's weights and bias lie in the flat buffer, as ranges (a part made of
// several MLPs, phi's hidden layer and the class head, need not be contiguous).
std::vector<ParamRange> spans_of(const std::vector<DenseLayer>& layers);

// The ranges sorted, with overlapping or touching ones joined.
std::vector<ParamRange> merge_ranges(std::vector<ParamRange> ranges);

inline torch::Tensor slice(const torch::Tensor& flat, ParamRange r) {
  return flat.narrow(0, r.begin, r.size());
}

}  // namespace croma
