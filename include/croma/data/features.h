#pragma once
// What one modality's features look like, and a batch of them as the encoders read it.
//
// A modality's items are held as one tensor [items, ...]:
//   vector : [n, dim] float32
//   frames : [n, T, dim] float32, variable-length sequences zero-padded to T, with lengths [n]
//   tokens : [n, T] int64 ids in [0, vocab), padded with 0 to T, with lengths [n]
//   image  : [n, channels, height, width] float32 (a spectrogram is 1 x mels x frames)
// A FeatureBatch is rows of such a tensor with their lengths: the lengths travel with the
// rows through every gather and index_select, so that padding can be masked out of the
// recurrence and the pooling of sequence encoders. It converts implicitly from a tensor
// (fixed-size features need no lengths), so code written for vectors keeps compiling.
#include <cstdint>
#include <string>
#include <vector>

namespace croma {

enum class FeatureKind { kVector, kFrames, kTokens, kImage };
const char* to_string(FeatureKind kind);

struct FeatureSpec {
  FeatureKind kind = FeatureKind::kVector;
  std::int64_t dim = 0;      // vector width, frame width, or image channels
  std::int64_t vocab = 0;    // tokens: ids lie in [0, vocab)
  std::int64_t height = 0;   // image
  std::int64_t width = 0;    // image

  static FeatureSpec vector(std::int64_t dim) { return {FeatureKind::kVector, dim, 0, 0, 0}; }
  static FeatureSpec frames(std::int64_t dim) { return {FeatureKind::kFrames, dim, 0, 0, 0}; }
  static FeatureSpec tokens(std::int64_t vocab) { return {FeatureKind::kTokens, 0, vocab, 0, 0}; }
  static FeatureSpec image(std::int64_t channels, std::int64_t height, std::int64_t width) {
    return {FeatureKind::kImage, channels, 0, height, width};
  }
  bool is_sequence() const { return kind == FeatureKind::kFrames || kind == FeatureKind::kTokens; }
  // e.g. "vectors of 96", "sequences of 40-dim frames", "token ids < 1000", "images 3x32x32".
  std::string describe() const;
  bool operator==(const FeatureSpec& o) const {
    return kind == o.kind && dim == o.dim && vocab == o.vocab && height == o.height && width == o.width;
  }
  bool operator!=(const FeatureSpec& o) const { return !(*this == o); }
};

class FeatureBatch {
 public:
  FeatureBatch() = default;
  FeatureBatch(torch::Tensor values) : values_(std::move(values)) {}  // NOLINT: implicit by design
  FeatureBatch(torch::Tensor values, torch::Tensor lengths)
      : values_(std::move(values)), lengths_(std::move(lengths)) {}

  const torch::Tensor& values() const { return values_; }
  // int64 [rows] on the values' device; undefined for fixed-size features.
  const torch::Tensor& lengths() const { return lengths_; }
  bool has_lengths() const { return lengths_.defined(); }
  bool defined() const { return values_.defined(); }

  // Mirrors the tensor calls that batch code makes, so that it reads the same either way.
  std::int64_t size(std::int64_t dim) const { return values_.size(dim); }
  // Rows `index` (dim must be 0); sequences keep their lengths.
  FeatureBatch index_select(std::int64_t dim, const torch::Tensor& index) const;
  FeatureBatch to(const torch::Device& device) const;

 private:
  torch::Tensor values_, lengths_;
};

// rows[i] = batch[ids[i]], lengths included; sequences are cut to the longest length among
// the chosen rows, so that a batch of short items does not carry the dataset's longest padding.
FeatureBatch gather_rows(const FeatureBatch& batch, const std::vector<std::int64_t>& ids);

// Padding mask [rows, T] (true on real steps) of sequences with these lengths.
torch::Tensor sequence_mask(const torch::Tensor& lengths, std::int64_t steps);

}  // namespace croma
