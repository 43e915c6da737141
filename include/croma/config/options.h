#pragma once
// Every option croma understands, grouped as on the command line (data, model, meta,
// distributed, output, evaluation). One struct per group; the groups are plain values so
// they can be copied into the run directory's config.json and read back by `croma eval`.
//
// The member initialisers below are the defaults (CroMA's). A baseline's own defaults of a few
// options, chosen from the tuning searches, are in config/method_defaults.cpp and apply to the
// options the command line does not give. Each option's command-line name, help text, allowed values and place in config.json is one entry
// of the option table (src/config/option_table.cpp, described in option_registry.h); parsing,
// range checks, --help and the JSON round trip all come from that table.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace croma {

// Raised for anything wrong with the command line or a config file. The message names
// the option and the allowed range; main() prints it as one line and exits non-zero.
class OptionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The built-in synthetic "concept world" (see data/concept_world.h).
struct WorldOptions {
  std::int64_t concepts = 48;             // classes
  std::int64_t latent_dim = 16;           // shared concept latent
  std::int64_t nuisance_dim = 16;         // modality-specific latent, one per modality
  std::int64_t source_dim = 96;
  std::int64_t target_dim = 64;
  std::int64_t samples_per_concept = 60;  // items per class in each modality
  std::int64_t clusters_per_concept = 2;  // sub-concepts inside a class (generative)
  // Weak clusters: 1 = the sub-concepts (each inside one class, so they reveal the class);
  // K > 1 = groups of K classes (coarser than the classes, as the paper's 17 ESC-50 clusters).
  std::int64_t classes_per_cluster = 1;
  double concept_spread = 1.0;            // std of class centres in the latent
  double cluster_spread = 0.5;            // std of cluster offsets around a class centre
  double within_spread = 0.6;             // std of items around their cluster
  double nuisance_scale = 2.5;            // std of the modality-specific nuisance latent
  double noise = 0.1;                     // std of additive feature noise
  double pair_noise = 0.0;                // std of latent disagreement inside a strong pair
  double train_fraction = 0.6;            // meta-train classes
  double val_fraction = 0.2;              // meta-val classes; the rest is meta-test
  // How each modality presents its items (data/concept_world.h): vector | frames | tokens |
  // image. Non-vector forms are rendered from the item's vector, so that the same world can
  // be read by a sequence or a convolutional encoder.
  std::string source_form = "vector";
  std::string target_form = "vector";
  std::int64_t min_frames = 6;            // sequence lengths, uniform in [min, max]
  std::int64_t max_frames = 16;
  std::int64_t frame_dim = 8;             // features per frame (frames form)
  std::int64_t vocab = 64;                // token ids in [0, vocab) (tokens form)
  std::int64_t image_size = 12;           // side of the square image (image form)
  std::int64_t image_channels = 2;
};

// The encoder of one modality (model/encoder.h). Every kind ends in a linear map to the
// aligned space.
//   mlp : MLP over a feature vector (one hidden layer of ModelOptions::hidden)
//   pool: per-frame (or per-token-embedding) MLP, then pooling over time (mean or max)
//   lstm: (bi)LSTM over frames or token embeddings, then pooling over time
//   cnn : residual CNN over [channels, height, width] (stride 1, max pooling between stages,
//         global average pooling at the end: the paper's Tables 5-6)
enum class EncoderKind { kMlp, kPool, kLstm, kCnn };
enum class SequencePool { kLast, kMean, kMax };

struct EncoderOptions {
  EncoderKind kind = EncoderKind::kMlp;
  std::int64_t lstm_hidden = 128;          // per direction
  std::int64_t lstm_layers = 1;
  bool bidirectional = false;
  SequencePool pool = SequencePool::kMax;  // lstm and pool encoders
  std::int64_t token_embedding = 64;       // embedding width for token-id input
  std::vector<std::int64_t> cnn_channels = {16, 32};  // one residual stage per entry
};

struct ModelOptions {
  std::int64_t hidden = 128;             // encoder hidden width
  std::int64_t embed_dim = 64;           // aligned space
  std::int64_t classifier_hidden = 128;  // meta-classifier hidden width
  EncoderOptions source_encoder, target_encoder;
};

enum class PairKind { kStrong, kWeak };
enum class AlignLossKind { kMargin, kInfoNce };

struct MetaOptions {
  std::int64_t steps = 2000;          // meta-steps
  std::int64_t ways = 5;              // N of source-classification and alignment episodes
  std::int64_t shots = 5;             // K per class in an episode
  std::int64_t inner_steps = 5;       // inner Adam steps per episode
  std::int64_t inner_batch = 8;       // classification minibatch per inner step
  std::int64_t align_batch = 8;       // alignment minibatch per inner step
  double inner_lr = 1e-2;         // the paper: 1e-3; see docs/algorithm.md
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double meta_lr = 0.1;               // Reptile epsilon
  PairKind pairs = PairKind::kStrong;
  AlignLossKind align_loss = AlignLossKind::kMargin;
  double margin = 0.1;
  double temperature = 0.1;
  std::int64_t tasks_per_rank = 1;    // T: episodes of each kind per rank per meta-step
  std::string method = "croma";       // croma or a baseline (meta/method.h)
  double label_noise = 0.0;           // symmetric noise on meta-train target labels a method reads
  // Which inner loop runs the episodes: auto (fused kernels where they apply, else autograd),
  // fused (refuse where they don't apply) or autograd (always).
  std::string inner_loop = "auto";
  // Two-phase baselines (align-classify, align-meta-classify): the share of the 2 * --steps
  // budget their first phase (alignment) gets; the second phase gets the rest.
  double first_phase_fraction = 0.5;
};

struct DistributedOptions {
  std::string device = "auto";        // auto | cpu | cuda | cuda:N
  std::int64_t check_every = 50;      // meta-steps between cross-rank parameter checksums
  std::int64_t threads = 1;           // intra-op threads per rank
};

struct OutputOptions {
  std::string run_dir = "runs/default";
  std::int64_t log_every = 25;
  std::int64_t checkpoint_every = 100;
  std::int64_t val_every = 500;       // meta-val few-shot accuracy; 0 disables
  std::int64_t val_tasks = 100;       // meta-val tasks of each validation during training
  bool quiet = false;                 // no progress on stderr
  bool overwrite = false;             // replace a run already in run_dir
  bool resume = false;                // continue the run in run_dir from its latest checkpoint
  std::int64_t lock_wait = 0;         // seconds to wait for another writer's run-directory lock; not stored
};

struct EvalOptions {
  std::int64_t ways = 5;
  std::vector<std::int64_t> shots = {5};
  std::int64_t tasks = 600;           // per seed: the few-shot standard of >= 600 episodes
  std::int64_t queries = 10;          // query items per class
  std::int64_t steps = 50;            // fine-tuning Adam steps
  double lr = 1e-3;
  bool head_only = false;             // fine-tune phi only (else e_t and phi)
  std::int64_t repeats = 1;           // evaluation seeds (task sets); the 95 % interval pools their episodes
  std::vector<double> label_noise = {0.0};  // symmetric noise rates on support labels
  bool retrieval = false;             // also few-shot cross-modal retrieval
  std::int64_t batch = 16;            // autograd path: tasks fine-tuned at once (1: one after another); not stored
  std::string fine_tune = "auto";     // auto | fused | autograd: fine-tuning's numerical path; not stored
};

// How a run prepares its data for meta-training (docs/evaluation.md): feature standardisation
// (data/standardize.h) and where validation tasks come from (data/meta_split.h). config.json
// records the resolved values ("on"/"off", "classes"/"items"), never "auto".
struct PrepOptions {
  std::string standardize = "auto";  // auto | on | off; auto: on for feature shards, off for the built-in world
  std::string val_split = "auto";    // classes | items | auto; auto: items exactly when the data has no meta-val classes
  double val_items_fraction = 0.2;   // items: fraction of each meta-train class's target items held out
  // Feature shards: 0 keeps the class split the shards carry; any other value redraws it from
  // this seed with the same sizes (data/meta_split.h resample_class_split), so that a study can
  // put class sampling into its intervals without rebuilding the data.
  std::uint64_t class_split_seed = 0;
};

struct TrainOptions {
  std::uint64_t seed = 1;
  // --print-hparams: print the method's hyperparameter registry (meta/hyperparameters.h) as
  // JSON and exit. A command, not a setting: never stored in config.json.
  bool print_hparams = false;
  // Feature shard files (absolute paths) of a real dataset; empty: the built-in world.
  // Parsing leaves --data as typed (a FILE[,FILE...] or .txt list spec, one element): reading
  // list files is the data layer's job, so commands resolve it with resolve_shard_paths()
  // (data/feature_shards.h) before using it. config.json always holds resolved paths.
  std::vector<std::string> data;
  PrepOptions prep;
  WorldOptions world;
  ModelOptions model;
  MetaOptions meta;
  DistributedOptions dist;
  OutputOptions out;
  EvalOptions eval;
};

struct EvalCommandOptions {
  std::string run_dir;
  std::string checkpoint = "final";   // final | best | initial | a path
  // --data: the run's feature shards, moved or copied since training (as typed until
  // resolve_shard_paths(), then absolute paths); empty: the paths in the run's config.json.
  std::vector<std::string> data;
  std::string split = "test";         // val | test
  std::uint64_t eval_seed = 0;        // 0: the run's seed
  std::string device = "auto";
  std::int64_t threads = 1;
  bool skip_untrained = false;        // --skip-untrained: the trained parameters only (half the cost)
  EvalOptions eval;
  bool eval_overridden = false;       // any --eval-* given on the command line
  std::int64_t lock_wait = 0;         // seconds to wait for another writer's run-directory lock
  std::string heads = "finetune";     // --head: finetune and/or the frozen heads prototype, logistic
  std::string head_features = "trained,initial,raw";  // --head-features: what the frozen heads read
  std::string export_episodes;        // a JSON file of every episode, its accuracies and the frozen features
};

// Parse `croma train` arguments (argv[0] is the subcommand name). Returns false when
// --help was printed. `usage` heads --help: commands that take the training options too
// (croma bench) name themselves there.
bool parse_train_options(int argc, const char* const argv[], TrainOptions& options,
                         const std::string& usage = "usage: croma train [options]");
bool parse_eval_options(int argc, const char* const argv[], EvalCommandOptions& options);

// Range checks that need no data (each option's own range, then the rules that relate
// options); throws OptionError naming the option.
void validate(const TrainOptions& options);
void validate(const EvalOptions& options);
void validate(const PrepOptions& options);

std::string to_string(PairKind kind);
std::string to_string(AlignLossKind kind);
std::string to_string(EncoderKind kind);
std::string to_string(SequencePool pool);

// config.json: every stored option at its path. from_json also reads files written by
// older versions (options they lack take their documented values) and validates.
void to_json(nlohmann::json& j, const TrainOptions& o);
void from_json(const nlohmann::json& j, TrainOptions& o);

}  // namespace croma
