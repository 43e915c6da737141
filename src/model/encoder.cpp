#include "croma/model/encoder.h"

#include <cmath>
#include <limits>

namespace croma {
namespace {

torch::Tensor full_lengths(const torch::Tensor& values) {
  return torch::full({values.size(0)}, values.size(1),
                     torch::TensorOptions().dtype(torch::kInt64).device(values.device()));
}

torch::Tensor lengths_of(const FeatureBatch& x) {
  return x.has_lengths() ? x.lengths() : full_lengths(x.values());
}

// The optional token-embedding table in front of a sequence encoder.
struct StepInput {
  bool tokens = false;
  std::size_t embedding = 0;
  std::int64_t width = 0;  // per-step width after the embedding

  StepInput(LayoutBuilder& b, const std::string& prefix, const FeatureSpec& input,
            const EncoderOptions& o) {
    tokens = input.kind == FeatureKind::kTokens;
    if (tokens) {
      // nn.Embedding's default N(0, 1).
      embedding = b.add(prefix + "/embedding", {input.vocab, o.token_embedding}, ParamInit::normal(1.0));
      width = o.token_embedding;
    } else {
      width = input.dim;
    }
  }
  torch::Tensor operator()(const ParamLayout& layout, const Weights& w, const torch::Tensor& values) const {
    return tokens ? torch::embedding(w.entry(layout, embedding), values) : values;
  }
};

struct Linear {
  std::size_t weight = 0, bias = 0;
  Linear() = default;
  Linear(LayoutBuilder& b, const std::string& name, std::int64_t in, std::int64_t out) {
    weight = b.add(name + "/weight", {out, in}, ParamInit::fan_in(in));
    bias = b.add(name + "/bias", {out}, ParamInit::fan_in(in));
  }
  torch::Tensor operator()(const ParamLayout& layout, const Weights& w, const torch::Tensor& x) const {
    return torch::linear(x, w.entry(layout, weight), w.entry(layout, bias));
  }
};

// ---- pool -----------------------------------------------------------------------------

class PoolEncoder : public Encoder {
 public:
  PoolEncoder(LayoutBuilder& b, const std::string& prefix, const FeatureSpec& input,
              const EncoderOptions& o, std::int64_t hidden, std::int64_t out_dim)
      : step_(b, prefix, input, o), pool_(o.pool) {
    frame_ = Linear(b, prefix + "/frame", step_.width, hidden);
    out_ = Linear(b, prefix + "/out", hidden, out_dim);
  }
  torch::Tensor forward(const ParamLayout& layout, const Weights& w, const FeatureBatch& x) const override {
    const auto h = torch::relu(frame_(layout, w, step_(layout, w, x.values())));
    return out_(layout, w, pool_over_time(h, lengths_of(x), pool_));
  }

 private:
  StepInput step_;
  SequencePool pool_;
  Linear frame_, out_;
};

// ---- LSTM -----------------------------------------------------------------------------

class LstmEncoder : public Encoder {
 public:
  LstmEncoder(LayoutBuilder& b, const std::string& prefix, const FeatureSpec& input,
              const EncoderOptions& o, std::int64_t out_dim)
      : step_(b, prefix, input, o), hidden_(o.lstm_hidden), layers_(o.lstm_layers),
        directions_(o.bidirectional ? 2 : 1), pool_(o.pool) {
    // at::lstm's parameter order: per layer, per direction: w_ih, w_hh, b_ih, b_hh, all
    // drawn from nn.LSTM's default U(-1/sqrt(hidden), 1/sqrt(hidden)).
    const auto init = ParamInit::uniform(1.0 / std::sqrt(static_cast<double>(hidden_)));
    for (std::int64_t l = 0; l < layers_; ++l) {
      const auto in = l == 0 ? step_.width : hidden_ * directions_;
      for (std::int64_t d = 0; d < directions_; ++d) {
        const auto base = prefix + "/lstm/layer" + std::to_string(l) + (d ? "_reverse" : "");
        params_.push_back(b.add(base + "/w_ih", {4 * hidden_, in}, init));
        params_.push_back(b.add(base + "/w_hh", {4 * hidden_, hidden_}, init));
        params_.push_back(b.add(base + "/b_ih", {4 * hidden_}, init));
        params_.push_back(b.add(base + "/b_hh", {4 * hidden_}, init));
      }
    }
    out_ = Linear(b, prefix + "/out", hidden_ * directions_, out_dim);
  }

  torch::Tensor forward(const ParamLayout& layout, const Weights& w, const FeatureBatch& x) const override {
    const auto seq = step_(layout, w, x.values());  // [rows, T, width]
    const auto rows = seq.size(0);
    // Packing wants lengths on the CPU in decreasing order: sort the rows, unsort at the end.
    const auto sorted = lengths_of(x).to(torch::kCPU).sort(0, /*descending=*/true);
    const auto& sorted_lengths = std::get<0>(sorted);
    const auto order = std::get<1>(sorted).to(seq.device());
    const auto packed = at::_pack_padded_sequence(seq.index_select(0, order), sorted_lengths,
                                                  /*batch_first=*/true);
    std::vector<torch::Tensor> params;
    params.reserve(params_.size());
    for (auto i : params_) params.push_back(w.entry(layout, i));
    const auto zeros = torch::zeros({layers_ * directions_, rows, hidden_}, seq.options());
    const std::vector<torch::Tensor> state{zeros, zeros};
    // train=true only keeps what backward needs (cuDNN refuses backward otherwise); there is
    // no dropout.
    const auto run = at::lstm(std::get<0>(packed), std::get<1>(packed), at::TensorList(state),
                              at::TensorList(params), /*has_biases=*/true, layers_, /*dropout=*/0.0,
                              /*train=*/true, directions_ == 2);
    torch::Tensor pooled;
    if (pool_ == SequencePool::kLast) {
      // Final states of the last layer: forward after each row's last real step, backward
      // after its first; packing stops each row at its own length.
      const auto& hy = std::get<1>(run);  // [layers * directions, rows, hidden]
      pooled = hy.narrow(0, (layers_ - 1) * directions_, directions_).permute({1, 0, 2}).reshape({rows, -1});
    } else {
      const auto longest = sorted_lengths[0].item<std::int64_t>();
      const auto padded = std::get<0>(at::_pad_packed_sequence(std::get<0>(run), std::get<1>(packed),
                                                               /*batch_first=*/true, 0.0, longest));
      pooled = pool_over_time(padded, sorted_lengths.to(seq.device()), pool_);
    }
    return out_(layout, w, pooled.index_select(0, order.argsort()));
  }

 private:
  StepInput step_;
  std::int64_t hidden_, layers_, directions_;
  SequencePool pool_;
  std::vector<std::size_t> params_;
  Linear out_;
};

// ---- CNN ------------------------------------------------------------------------------

struct Conv {
  std::size_t weight = 0, bias = 0;
  bool has_bias = true;
  std::int64_t padding = 1;
  Conv() = default;
  Conv(LayoutBuilder& b, const std::string& name, std::int64_t in, std::int64_t out, std::int64_t k,
       bool with_bias)
      : has_bias(with_bias), padding(k / 2) {
    const auto init = ParamInit::fan_in(in * k * k);
    weight = b.add(name + "/weight", {out, in, k, k}, init);
    if (with_bias) bias = b.add(name + "/bias", {out}, init);
  }
  torch::Tensor operator()(const ParamLayout& layout, const Weights& w, const torch::Tensor& x) const {
    return torch::conv2d(x, w.entry(layout, weight), has_bias ? w.entry(layout, bias) : torch::Tensor(),
                         /*stride=*/1, padding);
  }
};

class CnnEncoder : public Encoder {
 public:
  CnnEncoder(LayoutBuilder& b, const std::string& prefix, const FeatureSpec& input,
             const EncoderOptions& o, std::int64_t out_dim) {
    const auto& ch = o.cnn_channels;
    stem_ = Conv(b, prefix + "/stem", input.dim, ch[0], 3, true);
    auto height = input.height, width = input.width;
    for (std::size_t s = 0; s < ch.size(); ++s) {
      Stage stage;
      if (s > 0) {
        // Halve each spatial side that still can be halved (a 1-mel-high input keeps its 1).
        stage.pool = {height >= 2 ? 2 : 1, width >= 2 ? 2 : 1};
        height /= stage.pool[0];
        width /= stage.pool[1];
      }
      const auto in = s == 0 ? ch[0] : ch[s - 1];
      const auto base = prefix + "/stage" + std::to_string(s);
      stage.conv1 = Conv(b, base + "/conv1", in, ch[s], 3, true);
      stage.conv2 = Conv(b, base + "/conv2", ch[s], ch[s], 3, true);
      if (in != ch[s]) {
        stage.project = true;
        stage.skip = Conv(b, base + "/skip", in, ch[s], 1, false);
      }
      stages_.push_back(stage);
    }
    out_ = Linear(b, prefix + "/out", ch.back(), out_dim);
  }

  torch::Tensor forward(const ParamLayout& layout, const Weights& w, const FeatureBatch& x) const override {
    auto h = torch::relu(stem_(layout, w, x.values()));
    for (const auto& s : stages_) {
      if (!s.pool.empty()) h = torch::max_pool2d(h, s.pool, s.pool);
      auto r = s.conv2(layout, w, torch::relu(s.conv1(layout, w, h)));
      h = torch::relu(r + (s.project ? s.skip(layout, w, h) : h));
    }
    return out_(layout, w, h.mean({2, 3}));
  }

 private:
  struct Stage {
    std::vector<std::int64_t> pool;  // empty: no pooling before this stage
    Conv conv1, conv2, skip;
    bool project = false;
  };
  Conv stem_;
  std::vector<Stage> stages_;
  Linear out_;
};

}  // namespace

ParamInit ParamInit::fan_in(std::int64_t fan_in) {
  return uniform(1.0 / std::sqrt(static_cast<double>(fan_in)));
}

std::size_t LayoutBuilder::add(const std::string& name, std::vector<std::int64_t> shape, ParamInit init) {
  const auto i = layout_.add(name, std::move(shape));
  init_.resize(i + 1);
  init_[i] = init;
  return i;
}

void check_encoder_input(const std::string& which, const FeatureSpec& input, const EncoderOptions& o) {
  const auto option = "--" + which + "-encoder " + to_string(o.kind);
  const auto reads = [&](const char* what) {
    return OptionError(option + " reads " + what + ", but the " + which + " modality has " + input.describe());
  };
  switch (o.kind) {
    case EncoderKind::kMlp:
      if (input.kind != FeatureKind::kVector) {
        throw OptionError(option + " reads feature vectors, but the " + which + " modality has " +
                          input.describe() + (input.is_sequence() ? " (use lstm or pool)" : " (use cnn)"));
      }
      break;
    case EncoderKind::kPool:
    case EncoderKind::kLstm:
      if (!input.is_sequence()) throw reads("sequences (frames or token ids)");
      if (o.kind == EncoderKind::kPool && o.pool == SequencePool::kLast) {
        throw OptionError(option + " pools with mean or max (--seq-pool last is for lstm)");
      }
      break;
    case EncoderKind::kCnn:
      if (input.kind != FeatureKind::kImage) throw reads("images [channels, height, width]");
      break;
  }
}

std::shared_ptr<const Encoder> make_encoder(LayoutBuilder& b, const std::string& prefix,
                                            const FeatureSpec& input, const EncoderOptions& o,
                                            std::int64_t hidden, std::int64_t out_dim) {
  switch (o.kind) {
    case EncoderKind::kPool: return std::make_shared<PoolEncoder>(b, prefix, input, o, hidden, out_dim);
    case EncoderKind::kLstm: return std::make_shared<LstmEncoder>(b, prefix, input, o, out_dim);
    case EncoderKind::kCnn: return std::make_shared<CnnEncoder>(b, prefix, input, o, out_dim);
    case EncoderKind::kMlp: break;
  }
  throw std::logic_error("make_encoder: the MLP encoder is CromaModel's own");
}

torch::Tensor pool_over_time(const torch::Tensor& steps, const torch::Tensor& lengths, SequencePool pool) {
  // Filled rather than multiplied, so that not even a non-finite padding value gets through.
  const auto padding = sequence_mask(lengths, steps.size(1)).logical_not().unsqueeze(2);  // [rows, T, 1]
  if (pool == SequencePool::kMean) {
    return steps.masked_fill(padding, 0.0).sum(1) / lengths.unsqueeze(1).to(steps.scalar_type());
  }
  if (pool == SequencePool::kMax) {
    return steps.masked_fill(padding, -std::numeric_limits<float>::infinity()).amax(1);
  }
  throw std::invalid_argument("pool_over_time: mean or max only (last is the LSTM's final state)");
}

}  // namespace croma
