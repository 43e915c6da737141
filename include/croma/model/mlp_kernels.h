#pragma once
// Hand-derived forward and backward passes of the models' MLP parts and losses, on the CPU,
// without autograd: what the fused inner loop (meta/fused_inner_loop.h) runs.
//
// At the bench configuration an autograd inner step is ~60 small ATen ops, each with
// dispatch, allocation and graph bookkeeping, around a handful of 8-row matrix products that
// are the only real work. Here the products are small-product kernels
// (model/small_products.h) into buffers allocated once, and everything element-wise (bias,
// ReLU and its mask, L2 normalisation, the alignment losses, cross-entropy, bias gradients) is
// a plain loop over a few thousand floats.
// Weight and bias gradients are written (or, for a second use of the same weights in one
// step, added: set_accumulate) straight into a flat gradient buffer laid out like the
// parameters. The arithmetic is that of CromaModel and losses.h;
// tests/model/mlp_kernels_test.cpp checks losses and gradients against autograd.
#include <cstdint>
#include <string>
#include <vector>

#include "croma/config/options.h"
#include "croma/model/losses.h"
#include "croma/model/param_layout.h"
#include "croma/model/small_products.h"

namespace croma {

// Linear-ReLU-...-Linear (no ReLU after the last layer) on minibatches of a fixed width, with
// its activations kept for the backward pass. CPU float32 only.
class MlpKernel {
 public:
  explicit MlpKernel(std::vector<DenseLayer> layers);
  // Read weights from `values` and write gradients into `grad` (1-D CPU float tensors laid
  // out like the model, e.g. one row of a [slots, numel] buffer). Views are made once here.
  void bind(const torch::Tensor& values, const torch::Tensor& grad);
  std::int64_t in() const { return layers_.front().in; }
  std::int64_t out() const { return layers_.back().out; }

  // The input buffer [rows, in] to fill before forward() (reallocated only when rows change).
  float* input(std::int64_t rows);
  // Runs the layers on the input; returns the output [rows, out] (row-major).
  const float* forward();
  // The buffer [rows, out] for d loss / d output, to fill before backward().
  float* output_grad() { return grads_.back().data_ptr<float>(); }
  // A kernel that runs weights another kernel already ran in this step (the shared encoder
  // on the target path after the source path) adds its gradients instead of writing them.
  void set_accumulate(bool accumulate) { accumulate_ = accumulate; }
  // A kernel over weights held fixed (the domain discriminator in the encoder's loss) forms
  // only the gradients of its activations and input, and writes nothing into the buffer.
  void set_frozen(bool frozen) { frozen_ = frozen; }
  // Writes d loss / d weight and d loss / d bias of every layer into the bound gradient
  // buffer (overwriting it there, or adding to it: set_accumulate). With `input_grad`, also forms d loss / d input (for a part
  // that another part feeds: phi or the decoder behind e_t), read from input_grad().
  void backward(bool input_grad = false);
  const float* input_grad() const { return grads_.front().data_ptr<float>(); }

 private:
  std::vector<DenseLayer> layers_;
  std::int64_t rows_ = -1;
  bool accumulate_ = false, frozen_ = false;
  // acts_[0] the input, acts_[l + 1] the output of layer l (after ReLU for hidden layers);
  // grads_[l + 1] d loss / d acts_[l + 1].
  std::vector<torch::Tensor> acts_, grads_;
  std::vector<const float*> weight_;
  std::vector<float*> weight_grad_, bias_, bias_grad_;
  SmallProducts products_;
};

// Row-wise L2 normalisation z = y / max(|y|, 1e-12) (CromaModel's), keeping the norms;
// and its backward: dy = (dz - z (z . dz)) / |y|, or dz / 1e-12 where the norm was clamped.
void normalise_rows(const float* y, std::int64_t rows, std::int64_t cols, float* z, float* norms);
void normalise_rows_backward(const float* z, const float* norms, const float* dz, std::int64_t rows,
                             std::int64_t cols, float* dy);

// The configured alignment loss (losses.h: margin or InfoNCE) of normalised embeddings
// zs [bs, cols], zt [bt, cols] with group ids gs, gt; writes d loss / d zs and d loss / d zt.
double alignment_loss_and_grad(const AlignmentLossSettings& settings, const float* zs, const float* zt,
                               std::int64_t bs, std::int64_t bt, std::int64_t cols,
                               const std::int64_t* gs, const std::int64_t* gt, float* dzs, float* dzt);

// Mean squared error mean((y - x)^2) over rows x cols entries; writes d loss / d y.
double squared_error_and_grad(const float* y, const float* x, std::int64_t rows, std::int64_t cols, float* dy);

// Mean cross-entropy of logits [rows, classes] against the uniform distribution over the
// classes (the domain-confusion loss, mean over rows of -mean_c log p_c); writes d loss / d logits.
double uniform_cross_entropy_and_grad(const float* logits, std::int64_t rows, std::int64_t classes, float* dlogits);

// Mean cross-entropy of logits [rows, classes] against labels; writes d loss / d logits.
double cross_entropy_and_grad(const float* logits, std::int64_t rows, std::int64_t classes,
                              const std::int64_t* labels, float* dlogits);

// Copies the given rows of a row-major [items, cols] CPU float matrix into `out`, times
// `scale`.
void copy_rows(const torch::Tensor& from, const std::vector<std::int64_t>& rows, float* out, float scale = 1.0f);

// Kernels each feeding the next: an encoder path (e_t; or the input map, then the shared e_s).
using KernelPath = std::vector<MlpKernel*>;
// Whether x is features encode() can read: a defined, contiguous, non-empty [items, dim]
// CPU float matrix.
bool encodable_features(const torch::Tensor& x);
// Rows of x through the path, L2-normalised into z [rows, out] (norms kept); and back: d loss
// / d z through the normalisation and every kernel of the path (the first kernel forms no
// input gradient: its input is data).
void encode(const KernelPath& path, const torch::Tensor& x, const std::vector<std::int64_t>& rows,
            std::vector<float>& z, std::vector<float>& norms);
void encode_backward(const KernelPath& path, const std::vector<float>& z, const std::vector<float>& norms,
                     const std::vector<float>& dz);

}  // namespace croma
