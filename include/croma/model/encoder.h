#pragma once
// Encoders of one modality into the aligned space, as entries of the model's flat parameter
// layout plus a pure forward function of (Weights, FeatureBatch).
//
// Because an encoder owns no tensors, only layout entry indices, everything that works on
// the flat buffer (fast-weight copy, inner Adam, Reptile delta, MPI allreduce, checksums,
// checkpoints) works for every encoder kind with no special case: an LSTM's weights are
// layout entries fed to the functional at::lstm, a CNN's are fed to conv2d.
//
// The MLP over a vector stays CromaModel's own two-layer MLP (croma_model.h); the kinds here
// read what an MLP cannot:
//   PoolEncoder : per-step linear+ReLU, then masked mean/max pooling over time
//   LstmEncoder : (bi)LSTM over packed sequences (padding never enters the recurrence),
//                 pooled over time by the last state, a masked mean or a masked max
//   CnnEncoder  : residual CNN, stride 1, max pooling between stages, global average pooling
// Token-id sequences go through an embedding table first. Each ends in a linear map to the
// requested output width.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "croma/config/options.h"
#include "croma/data/features.h"
#include "croma/model/fast_weights.h"
#include "croma/model/param_layout.h"

namespace croma {

// How initial_parameters() draws one layout entry.
struct ParamInit {
  enum class Kind { kUniform, kNormal };
  Kind kind = Kind::kUniform;
  double scale = 0;  // bound of U(-scale, scale), or std of N(0, scale^2)

  static ParamInit uniform(double bound) { return {Kind::kUniform, bound}; }
  static ParamInit normal(double stddev) { return {Kind::kNormal, stddev}; }
  // PyTorch's default for linear and conv layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  static ParamInit fan_in(std::int64_t fan_in);
};

// Appends entries to a layout and records how each is initialised (index for index).
class LayoutBuilder {
 public:
  LayoutBuilder(ParamLayout& layout, std::vector<ParamInit>& init) : layout_(layout), init_(init) {}
  std::size_t add(const std::string& name, std::vector<std::int64_t> shape, ParamInit init);
  std::int64_t numel() const { return layout_.numel(); }

 private:
  ParamLayout& layout_;
  std::vector<ParamInit>& init_;
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  // Un-normalised embeddings [rows, out_dim]. Sequences without lengths count as full length.
  virtual torch::Tensor forward(const ParamLayout& layout, const Weights& w,
                                const FeatureBatch& x) const = 0;
};

// Throws OptionError naming the option when `options.kind` cannot read `input`
// (e.g. --target-encoder lstm over vectors). `which` is "source" or "target".
void check_encoder_input(const std::string& which, const FeatureSpec& input, const EncoderOptions& options);

// Adds the parameters of a pool, LSTM or CNN encoder under `prefix` (e.g. "e_t") and returns
// it; `hidden` is the pool encoder's per-step width. Not for EncoderKind::kMlp.
std::shared_ptr<const Encoder> make_encoder(LayoutBuilder& builder, const std::string& prefix,
                                            const FeatureSpec& input, const EncoderOptions& options,
                                            std::int64_t hidden, std::int64_t out_dim);

// Masked pooling of per-step values [rows, T, width] over time: mean or max over the steps
// before each row's length. Padding never contributes.
torch::Tensor pool_over_time(const torch::Tensor& steps, const torch::Tensor& lengths, SequencePool pool);

}  // namespace croma
