#include "croma/model/param_layout.h"

#include <algorithm>
#include <stdexcept>

namespace croma {

std::size_t ParamLayout::add(const std::string& name, std::vector<std::int64_t> shape) {
  std::int64_t n = 1;
  for (auto d : shape) {
    if (d <= 0) throw std::invalid_argument("parameter '" + name + "' has a non-positive dimension");
    n *= d;
  }
  for (const auto& e : entries_) {
    if (e.name == name) throw std::invalid_argument("duplicate parameter name '" + name + "'");
  }
  entries_.push_back({name, std::move(shape), numel_, n});
  numel_ += n;
  return entries_.size() - 1;
}

torch::Tensor ParamLayout::view(const torch::Tensor& flat, std::size_t i) const {
  const auto& e = entries_.at(i);
  return flat.narrow(0, e.offset, e.numel).view(e.shape);
}

std::vector<ParamRange> spans_of(const std::vector<DenseLayer>& layers) {
  std::vector<ParamRange> out;
  for (const auto& l : layers) {
    out.push_back({l.weight_offset, l.weight_offset + l.in * l.out});
    out.push_back({l.bias_offset, l.bias_offset + l.out});
  }
  return out;
}

std::vector<ParamRange> merge_ranges(std::vector<ParamRange> ranges) {
  std::sort(ranges.begin(), ranges.end(), [](ParamRange a, ParamRange b) { return a.begin < b.begin; });
  std::vector<ParamRange> out;
  for (const auto& r : ranges) {
    if (!out.empty() && r.begin <= out.back().end) {
      out.back().end = std::max(out.back().end, r.end);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace croma
