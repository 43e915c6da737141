#include "croma/model/mlp_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace croma {
namespace {

// The element-wise parts of a layer, as loops over restrict pointers (no aliasing, so they
// vectorise) cloned for the widest vector unit of the machine. Each output element sees the
// same operations in the same order as the plain loops: the same bits.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CROMA_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CROMA_VECTOR_CLONES
#endif

// y[r, :] += b, then (relu) max(., 0), for each of `rows` rows of n.
CROMA_VECTOR_CLONES
void add_bias(float* __restrict y, const float* __restrict b, std::int64_t rows, std::int64_t n, bool relu) {
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = y + r * n;
    if (relu) {
      for (std::int64_t j = 0; j < n; ++j) {
        const float v = row[j] + b[j];
        row[j] = v > 0.0f ? v : 0.0f;
      }
    } else {
      for (std::int64_t j = 0; j < n; ++j) row[j] += b[j];
    }
  }
}

// db[j] += sum over rows of g[r, j], row after row.
CROMA_VECTOR_CLONES
void add_column_sums(const float* __restrict g, std::int64_t rows, std::int64_t n, float* __restrict db) {
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < n; ++j) db[j] += g[r * n + j];
  }
}

// gi[i] = 0 where the activation a[i] that the ReLU produced is not positive.
CROMA_VECTOR_CLONES
void relu_mask(float* __restrict gi, const float* __restrict a, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) gi[i] = a[i] > 0.0f ? gi[i] : 0.0f;
}

}  // namespace

MlpKernel::MlpKernel(std::vector<DenseLayer> layers) : layers_(std::move(layers)) {
  if (layers_.empty()) throw std::invalid_argument("MlpKernel: no layers");
}

void MlpKernel::bind(const torch::Tensor& values, const torch::Tensor& grad) {
  if (!values.device().is_cpu() || values.scalar_type() != torch::kFloat32 || values.dim() != 1 ||
      !values.is_contiguous() || !grad.is_contiguous() || grad.sizes() != values.sizes()) {
    throw std::invalid_argument("MlpKernel::bind: needs 1-D contiguous CPU float buffers of one size");
  }
  weight_.clear();
  weight_grad_.clear();
  bias_.clear();
  bias_grad_.clear();
  for (const auto& l : layers_) {
    weight_.push_back(values.data_ptr<float>() + l.weight_offset);
    weight_grad_.push_back(grad.data_ptr<float>() + l.weight_offset);
    bias_.push_back(values.data_ptr<float>() + l.bias_offset);
    bias_grad_.push_back(grad.data_ptr<float>() + l.bias_offset);
  }
}

float* MlpKernel::input(std::int64_t rows) {
  if (rows != rows_) {
    rows_ = rows;
    acts_.assign(1, torch::empty({rows, in()}, torch::kFloat32));
    grads_.assign(1, torch::empty({rows, in()}, torch::kFloat32));
    for (const auto& l : layers_) {
      acts_.push_back(torch::empty({rows, l.out}, torch::kFloat32));
      grads_.push_back(torch::empty({rows, l.out}, torch::kFloat32));
    }
  }
  return acts_[0].data_ptr<float>();
}

const float* MlpKernel::forward() {
  if (weight_.empty() || rows_ < 0) throw std::logic_error("MlpKernel::forward: bind() and input() first");
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const auto& layer = layers_[l];
    products_.forward(acts_[l].data_ptr<float>(), weight_[l], acts_[l + 1].data_ptr<float>(), rows_, layer.in,
                      layer.out);
    add_bias(acts_[l + 1].data_ptr<float>(), bias_[l], rows_, layers_[l].out, l + 1 < layers_.size());
  }
  return acts_.back().data_ptr<float>();
}

void MlpKernel::backward(bool input_grad) {
  for (std::size_t l = layers_.size(); l-- > 0;) {
    const auto& layer = layers_[l];
    const float* g = grads_[l + 1].data_ptr<float>();
    if (!frozen_) {  // a held-fixed kernel forms no weight or bias gradient
      products_.weight_grad(g, acts_[l].data_ptr<float>(), weight_grad_[l], rows_, layer.in, layer.out,
                            accumulate_);
      float* db = bias_grad_[l];
      if (!accumulate_) std::fill(db, db + layer.out, 0.0f);
      add_column_sums(g, rows_, layer.out, db);
    }
    if (l == 0) {
      if (input_grad) products_.input_grad(g, weight_[0], grads_[0].data_ptr<float>(), rows_, layer.in, layer.out);
      break;
    }
    // d loss / d input of layer l, through the ReLU that produced that input.
    products_.input_grad(g, weight_[l], grads_[l].data_ptr<float>(), rows_, layer.in, layer.out);
    relu_mask(grads_[l].data_ptr<float>(), acts_[l].data_ptr<float>(), rows_ * layers_[l].in);
  }
}

void normalise_rows(const float* y, std::int64_t rows, std::int64_t cols, float* z, float* norms) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    float sq = 0.0f;
    for (std::int64_t j = 0; j < cols; ++j) sq += yr[j] * yr[j];
    const float n = std::max(std::sqrt(sq), 1e-12f);
    norms[r] = n;
    for (std::int64_t j = 0; j < cols; ++j) z[r * cols + j] = yr[j] / n;
  }
}

void normalise_rows_backward(const float* z, const float* norms, const float* dz, std::int64_t rows,
                             std::int64_t cols, float* dy) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* zr = z + r * cols;
    const float* dzr = dz + r * cols;
    float* dyr = dy + r * cols;
    const float n = norms[r];
    // Where the norm was clamped the divisor is a constant: no gradient through it.
    float dot = 0.0f;
    if (n > 1e-12f) {
      for (std::int64_t j = 0; j < cols; ++j) dot += zr[j] * dzr[j];
    }
    for (std::int64_t j = 0; j < cols; ++j) dyr[j] = (dzr[j] - zr[j] * dot) / n;
  }
}

double alignment_loss_and_grad(const AlignmentLossSettings& o, const float* zs, const float* zt, std::int64_t bs,
                               std::int64_t bt, std::int64_t cols, const std::int64_t* gs,
                               const std::int64_t* gt, float* dzs, float* dzt) {
  // Similarities S = zs zt^T and their gradient, bs x bt (a minibatch: at most a few dozen).
  std::vector<float> s(static_cast<std::size_t>(bs * bt)), ds(s.size(), 0.0f);
  for (std::int64_t i = 0; i < bs; ++i) {
    for (std::int64_t j = 0; j < bt; ++j) {
      float acc = 0.0f;
      for (std::int64_t c = 0; c < cols; ++c) acc += zs[i * cols + c] * zt[j * cols + c];
      s[i * bt + j] = acc;
    }
  }
  std::vector<std::int64_t> positives(static_cast<std::size_t>(bs), 0);
  std::int64_t anchors = 0;
  for (std::int64_t i = 0; i < bs; ++i) {
    for (std::int64_t j = 0; j < bt; ++j) positives[i] += gs[i] == gt[j] ? 1 : 0;
    if (positives[i] > 0 && positives[i] < bt) ++anchors;
  }
  double loss = 0.0;
  const double anchor_count = static_cast<double>(std::max<std::int64_t>(anchors, 1));
  for (std::int64_t i = 0; i < bs; ++i) {
    if (!(positives[i] > 0 && positives[i] < bt)) continue;
    const double w = 1.0 / (static_cast<double>(positives[i]) * anchor_count);
    const float* si = &s[i * bt];
    float* dsi = &ds[i * bt];
    if (o.kind == AlignLossKind::kMargin) {
      const float margin = static_cast<float>(o.margin);
      double sum = 0.0;
      for (std::int64_t p = 0; p < bt; ++p) {
        if (gs[i] != gt[p]) continue;
        for (std::int64_t n = 0; n < bt; ++n) {
          if (gs[i] == gt[n]) continue;
          const float h = (margin - si[p]) + si[n];
          if (h > 0.0f) {
            sum += h;
            dsi[p] -= static_cast<float>(w);
            dsi[n] += static_cast<float>(w);
          }
        }
      }
      loss += w * sum;
    } else {
      const double inv_t = 1.0 / o.temperature;
      double mx = -INFINITY;
      for (std::int64_t j = 0; j < bt; ++j) mx = std::max(mx, si[j] * inv_t);
      double z = 0.0;
      for (std::int64_t j = 0; j < bt; ++j) z += std::exp(si[j] * inv_t - mx);
      const double lse = mx + std::log(z);
      double sum = 0.0;
      for (std::int64_t j = 0; j < bt; ++j) {
        const double pj = std::exp(si[j] * inv_t - lse);
        const bool pos = gs[i] == gt[j];
        if (pos) sum -= si[j] * inv_t - lse;
        dsi[j] = static_cast<float>(w * inv_t * (static_cast<double>(positives[i]) * pj - (pos ? 1.0 : 0.0)));
      }
      loss += w * sum;
    }
  }
  // dzs = dS zt, dzt = dS^T zs.
  std::fill(dzs, dzs + bs * cols, 0.0f);
  std::fill(dzt, dzt + bt * cols, 0.0f);
  for (std::int64_t i = 0; i < bs; ++i) {
    for (std::int64_t j = 0; j < bt; ++j) {
      const float d = ds[i * bt + j];
      if (d == 0.0f) continue;
      for (std::int64_t c = 0; c < cols; ++c) {
        dzs[i * cols + c] += d * zt[j * cols + c];
        dzt[j * cols + c] += d * zs[i * cols + c];
      }
    }
  }
  return loss;
}

double squared_error_and_grad(const float* y, const float* x, std::int64_t rows, std::int64_t cols, float* dy) {
  const std::int64_t n = rows * cols;
  const double scale = 2.0 / static_cast<double>(n);
  double sum = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float d = y[i] - x[i];
    sum += static_cast<double>(d) * d;
    dy[i] = static_cast<float>(scale * d);
  }
  return sum / static_cast<double>(n);
}

double uniform_cross_entropy_and_grad(const float* logits, std::int64_t rows, std::int64_t classes, float* dlogits) {
  double loss = 0.0;
  const double uniform = 1.0 / static_cast<double>(classes);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* l = logits + r * classes;
    const double mx = *std::max_element(l, l + classes);
    double z = 0.0, mean = 0.0;
    for (std::int64_t c = 0; c < classes; ++c) {
      z += std::exp(l[c] - mx);
      mean += l[c] * uniform;
    }
    const double lse = mx + std::log(z);
    loss += lse - mean;  // -mean_c log p_c
    for (std::int64_t c = 0; c < classes; ++c) {
      dlogits[r * classes + c] = static_cast<float>((std::exp(l[c] - lse) - uniform) / static_cast<double>(rows));
    }
  }
  return loss / static_cast<double>(rows);
}

double cross_entropy_and_grad(const float* logits, std::int64_t rows, std::int64_t classes,
                              const std::int64_t* labels, float* dlogits) {
  double loss = 0.0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* l = logits + r * classes;
    const double mx = *std::max_element(l, l + classes);
    double z = 0.0;
    for (std::int64_t c = 0; c < classes; ++c) z += std::exp(l[c] - mx);
    const double lse = mx + std::log(z);
    const std::int64_t y = labels[r];
    if (y < 0 || y >= classes) throw std::out_of_range("cross_entropy_and_grad: label outside the classes");
    loss += lse - l[y];
    for (std::int64_t c = 0; c < classes; ++c) {
      dlogits[r * classes + c] =
          static_cast<float>((std::exp(l[c] - lse) - (c == y ? 1.0 : 0.0)) / static_cast<double>(rows));
    }
  }
  return loss / static_cast<double>(rows);
}

void copy_rows(const torch::Tensor& from, const std::vector<std::int64_t>& rows, float* out, float scale) {
  const auto cols = from.size(1);
  const float* src = from.data_ptr<float>();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const float* row = src + rows[r] * cols;
    float* dst = out + static_cast<std::int64_t>(r) * cols;
    if (scale == 1.0f) {
      std::memcpy(dst, row, sizeof(float) * static_cast<std::size_t>(cols));
    } else {
      for (std::int64_t c = 0; c < cols; ++c) dst[c] = row[c] * scale;
    }
  }
}

bool encodable_features(const torch::Tensor& x) {
  return x.defined() && x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && x.dim() == 2 &&
         x.is_contiguous() && x.size(0) >= 1;
}

void encode(const KernelPath& path, const torch::Tensor& x, const std::vector<std::int64_t>& rows,
            std::vector<float>& z, std::vector<float>& norms) {
  const auto b = static_cast<std::int64_t>(rows.size());
  copy_rows(x, rows, path.front()->input(b));
  const float* y = path.front()->forward();
  for (std::size_t k = 1; k < path.size(); ++k) {
    std::memcpy(path[k]->input(b), y, sizeof(float) * static_cast<std::size_t>(b * path[k]->in()));
    y = path[k]->forward();
  }
  const auto e = path.back()->out();
  z.resize(static_cast<std::size_t>(b * e));
  norms.resize(static_cast<std::size_t>(b));
  normalise_rows(y, b, e, z.data(), norms.data());
}

void encode_backward(const KernelPath& path, const std::vector<float>& z, const std::vector<float>& norms,
                     const std::vector<float>& dz) {
  const auto b = static_cast<std::int64_t>(norms.size());
  normalise_rows_backward(z.data(), norms.data(), dz.data(), b, path.back()->out(), path.back()->output_grad());
  for (std::size_t k = path.size(); k-- > 0;) {
    path[k]->backward(k > 0);
    if (k > 0) {
      std::memcpy(path[k - 1]->output_grad(), path[k]->input_grad(),
                  sizeof(float) * static_cast<std::size_t>(b * path[k]->in()));
    }
  }
}

}  // namespace croma
